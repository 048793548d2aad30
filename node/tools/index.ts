/**
 * The one tool registry: every operation an agent may run, each a name, a
 * zod input schema, a permission, a destructive flag and a handler calling
 * the same operation as its REST route. The MCP server reads it (filtered by
 * the caller's permissions), and so will the assistant.
 */
import { OrvaError } from '../../protocol/errors.ts';
import type { Permission } from '../../protocol/permissions.ts';
import { validate } from '../http/context.ts';
import { channelTools } from './channels.ts';
import { deploymentTools } from './deployments.ts';
import { executionTools } from './executions.ts';
import { functionTools } from './functions.ts';
import { invokeTools } from './invoke.ts';
import { keyTools } from './keys.ts';
import { poolConfigTools } from './pool-config.ts';
import { routeTools } from './routes.ts';
import { secretTools } from './secrets.ts';
import { systemTools } from './system.ts';
import type { Tool, ToolContext } from './tool.ts';

export type { Tool, ToolContext } from './tool.ts';
export { inputJsonSchema } from './json-schema.ts';
export { callError, callFromTool } from './invoke.ts';

export const TOOLS: readonly Tool[] = [
  ...functionTools,
  ...deploymentTools,
  ...invokeTools,
  ...executionTools,
  ...secretTools,
  ...routeTools,
  ...poolConfigTools,
  ...channelTools,
  ...keyTools,
  ...systemTools,
];

const BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));

export function toolNamed(name: string): Tool | undefined {
  return BY_NAME.get(name);
}

/** The tools a caller with these permissions may see and call, in registry order. */
export function toolsFor(permissions: ReadonlySet<Permission>): Tool[] {
  return TOOLS.filter((t) => permissions.has(t.permission));
}

/**
 * Run one tool for a caller: the permission first (the guard every call
 * passes), then its arguments, then `confirm` for destructive tools. Any
 * refusal is an OrvaError with the code REST would answer.
 */
export async function runTool(t: Tool, permissions: ReadonlySet<Permission>, ctx: ToolContext, args: unknown): Promise<object> {
  if (!permissions.has(t.permission)) throw new OrvaError('FORBIDDEN', `this key lacks the ${t.permission} permission that ${t.name} needs`, { required: t.permission, tool: t.name });
  const input = validate(t.input, args ?? {}, 'body');
  if (t.destructive && (input as { confirm?: boolean }).confirm !== true) {
    throw new OrvaError('VALIDATION', `${t.name} is destructive: call it again with confirm: true to go ahead`, { issues: [{ path: 'confirm', message: 'must be true' }] });
  }
  return t.handler(ctx, input);
}
