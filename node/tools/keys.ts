/** API keys as tools (admin only). */
import { z } from 'zod';
import { keyCreateBody } from '../../protocol/schemas.ts';
import { createKey, listKeys, revokeKey } from '../resources/keys.ts';
import { confirm, id, tool } from './tool.ts';

export const keyTools = [
  tool({
    name: 'list_keys',
    title: 'List API keys',
    description: 'API keys: name, prefix, permissions, last use, expiry. Never the key itself.',
    input: z.strictObject({}),
    permission: 'admin',
    destructive: false,
    readOnly: true,
    handler: ({ s }) => listKeys(s),
  }),
  tool({
    name: 'create_key',
    title: 'Create an API key',
    description: 'Issue an API key with some of the permissions invoke, read, write, admin (default all four); the key is in the answer once and never again.',
    input: keyCreateBody,
    permission: 'admin',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, body) => createKey(s, body, nowMs),
  }),
  tool({
    name: 'revoke_key',
    title: 'Revoke an API key',
    description: 'Revoke an API key: every node refuses it from then on. Irreversible: needs confirm: true.',
    input: z.strictObject({ key_id: id('API key'), confirm }),
    permission: 'admin',
    destructive: true,
    readOnly: false,
    handler: ({ s }, a) => revokeKey(s, a.key_id),
  }),
];
