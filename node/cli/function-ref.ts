/** Functions are addressed by name or id, as `kn func` and `faas-cli` users expect. */
import { z } from 'zod';
import { functionRecord } from '../../protocol/responses.ts';
import type { ApiClient } from './api-client.ts';
import { ApiError, CliError } from './errors.ts';

export type FunctionRecord = z.output<typeof functionRecord>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const functionPage = z.looseObject({ functions: z.array(functionRecord), next_cursor: z.string().nullable().optional() });

/** Every function, following `next_cursor` on a server that pages the list (an unpaged one answers it all at once). */
export async function listFunctions(client: ApiClient, query: { status?: string; runtime?: string } = {}): Promise<FunctionRecord[]> {
  const all: FunctionRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.json(functionPage, 'GET', '/api/v1/functions', { query: { ...query, cursor } });
    all.push(...page.functions);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return all;
}

/** The function named or identified by `ref`; undefined when there is none. */
export async function findFunction(client: ApiClient, ref: string): Promise<FunctionRecord | undefined> {
  if (UUID.test(ref)) {
    try {
      return await client.json(functionRecord, 'GET', `/api/v1/functions/${encodeURIComponent(ref)}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  return (await listFunctions(client)).find((f) => f.name === ref);
}

export async function mustFindFunction(client: ApiClient, ref: string): Promise<FunctionRecord> {
  const fn = await findFunction(client, ref);
  if (!fn) throw new CliError(`no function named or with id ${ref}`, 'list them with `orva functions ls`');
  return fn;
}
