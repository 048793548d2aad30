/** Function records as tools. */
import { z } from 'zod';
import { functionCreateBody, functionListQuery, functionUpdateBody } from '../../protocol/schemas.ts';
import { invalidField } from '../http/context.ts';
import { createFunction, deleteFunction, getFunction, listFunctions, updateFunction } from '../resources/functions.ts';
import { confirm, id, tool } from './tool.ts';

export const functionTools = [
  tool({
    name: 'list_functions',
    title: 'List functions',
    description: 'List every function, optionally filtered by status (created, building, active, error, inactive) or runtime.',
    input: functionListQuery,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, q) => listFunctions(s, q),
  }),
  tool({
    name: 'get_function',
    title: 'Get a function',
    description: 'One function record: runtime, limits, status, active deployment and code hash.',
    input: z.strictObject({ function_id: id('function') }),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => getFunction(s, a.function_id),
  }),
  tool({
    name: 'create_function',
    title: 'Create a function',
    description: 'Create a function record (no code yet: deploy it with deploy_inline). name is a lower-case slug; runtime node or python.',
    input: functionCreateBody,
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, spec) => createFunction(s, spec, nowMs),
  }),
  tool({
    name: 'update_function',
    title: 'Update a function',
    description: 'Change some fields of a function (name, entrypoint, limits, env_vars, network_mode, auth_mode, rate_limit_per_min, status active|inactive); the others keep their values.',
    input: z.strictObject({ function_id: id('function') }).extend(functionUpdateBody.shape),
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, { function_id, ...patch }) => {
      if (Object.keys(patch).length === 0) throw invalidField('', 'give at least one field to change');
      return updateFunction(s, function_id, patch, nowMs);
    },
  }),
  tool({
    name: 'delete_function',
    title: 'Delete a function',
    description: 'Delete a function, its versions, secrets and routes. Irreversible: needs confirm: true.',
    input: z.strictObject({ function_id: id('function'), confirm }),
    permission: 'write',
    destructive: true,
    readOnly: false,
    handler: ({ s }, a) => deleteFunction(s, a.function_id),
  }),
];
