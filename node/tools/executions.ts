/** Execution records and their logs as tools. */
import { z } from 'zod';
import { executionListQuery } from '../../protocol/schemas.ts';
import { executionLogs, getExecution, listExecutions } from '../resources/executions.ts';
import { id, tool } from './tool.ts';

export const executionTools = [
  tool({
    name: 'list_executions',
    title: 'List executions',
    description: 'Recent invocations across the cluster, newest first, optionally of one function: status, HTTP status, duration, cold start, trigger (http or mcp).',
    input: executionListQuery,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, q) => listExecutions(s, q),
  }),
  tool({
    name: 'get_execution',
    title: 'Get an execution',
    description: 'One invocation record.',
    input: z.strictObject({ execution_id: id('execution') }),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => getExecution(s, a.execution_id),
  }),
  tool({
    name: 'get_execution_logs',
    title: 'Get execution logs',
    description: "What the handler printed during one invocation, and the stack of an error it threw.",
    input: z.strictObject({ execution_id: id('execution') }),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => executionLogs(s, a.execution_id),
  }),
];
