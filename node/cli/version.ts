/** The CLI's version: the package's, read once. */
import { readFileSync } from 'node:fs';

export const CLI_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
