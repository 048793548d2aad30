/** Function secrets as tools: names go out, values never do. */
import { z } from 'zod';
import { secretBody } from '../../protocol/schemas.ts';
import { deleteSecret, listSecrets, setSecret } from '../resources/secrets.ts';
import { confirm, id, tool } from './tool.ts';

const fnId = z.strictObject({ function_id: id('function') });

export const secretTools = [
  tool({
    name: 'list_secrets',
    title: 'List secrets',
    description: "The names of a function's secrets (values are never returned).",
    input: fnId,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => listSecrets(s, a.function_id),
  }),
  tool({
    name: 'set_secret',
    title: 'Set a secret',
    description: "Create or replace a function's secret (an environment variable of its workers, encrypted at rest); the pool restarts so the next call sees it.",
    input: fnId.extend(secretBody.shape),
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, { function_id, ...body }) => setSecret(s, function_id, body, nowMs),
  }),
  tool({
    name: 'delete_secret',
    title: 'Delete a secret',
    description: "Remove a function's secret. Irreversible: needs confirm: true.",
    input: fnId.extend({ key: z.string().min(1).max(128), confirm }),
    permission: 'write',
    destructive: true,
    readOnly: false,
    handler: ({ s }, a) => deleteSecret(s, a.function_id, a.key),
  }),
];
