/**
 * One tool of the registry: what MCP (and later the assistant) exposes of an
 * operation. The handler calls the same exported operation as the REST
 * route, so there is one implementation of each.
 */
import { z } from 'zod';
import type { Permission } from '../../protocol/permissions.ts';
import type { FunctionCaller } from '../invoke/function-call.ts';
import type { Services } from '../services.ts';

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  s: Services;
  call: FunctionCaller;
  /** When the request arrived (epoch ms). */
  nowMs: number;
  /** The client's address, for a function's rate limit (read lazily). */
  readonly remoteAddress: string;
}

export interface Tool<S extends z.ZodType = z.ZodType> {
  /** `^[a-z][a-z0-9_]{0,62}$`, checked by the registry test. */
  name: string;
  title: string;
  description: string;
  /** A strict object schema (zod 4): unknown fields are refused, and its JSON Schema says `additionalProperties: false`. */
  input: S;
  /** The permission a key needs to see and call it. */
  permission: Permission;
  /** Deletes or replaces something for good: `destructiveHint`, and refused without `confirm: true`. */
  destructive: boolean;
  /** Changes nothing: `readOnlyHint`. */
  readOnly: boolean;
  handler(ctx: ToolContext, args: z.output<S>): Promise<object> | object;
}

/** Keeps each tool's handler typed by its own schema while the registry holds them as one list. */
export function tool<S extends z.ZodType>(t: Tool<S>): Tool {
  return t as unknown as Tool;
}

/** The argument every destructive tool takes; the dispatcher refuses the call unless it is true. */
export const confirm = z.boolean().optional().describe('must be true: this call deletes or replaces something and cannot be undone');

export const id = (what: string) => z.string().min(1).max(64).describe(`the ${what} id`);
