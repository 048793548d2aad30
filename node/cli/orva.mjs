#!/usr/bin/env node
// The `orva` executable (package.json "bin"): registers tsx so the TypeScript sources run as
// they are, from a checkout (`npm link`, `npx orva`), with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
await main();
