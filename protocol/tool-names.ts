/**
 * The MCP tool name of a function: the one sanitiser, used both where a
 * channel's function set is checked for collisions and where its tools are
 * registered, so the two can never disagree. Tool names must match
 * `^[a-z][a-z0-9_]{0,62}$`: what clients (and the models behind them) accept.
 */
import { hash } from 'node:crypto';

/** Most clients cap tool names near 64 characters; 63 leaves room for nothing to truncate them. */
export const TOOL_NAME_MAX = 63;
/** A long name keeps this much of itself, then `_` and 8 hex digits of a hash of the original. */
const KEPT_ON_TRUNCATE = 54;

/**
 * Prefixes that clients use for their own or built-in tools: a function
 * named like one could pass for it, so such names are refused, not rewritten.
 */
export const RESERVED_TOOL_PREFIXES = ['mcp_', 'claude_', 'chatgpt_', 'cursor_', 'system_', 'default_'] as const;

export type ToolNameResult = { ok: true; name: string } | { ok: false; error: string };

export function toolName(functionName: string): ToolNameResult {
  let name = '';
  // By code point, so a character outside the BMP becomes one `_`, not two.
  for (const ch of functionName.toLowerCase()) name += /[a-z0-9_]/.test(ch) ? ch : '_';
  name = name.replace(/_+/g, '_').replace(/^_|_$/g, '');
  if (name === '') return { ok: false, error: `function name ${JSON.stringify(functionName)} has no letter or digit to make a tool name of` };
  if (/^[0-9]/.test(name)) name = `fn_${name}`;
  const reserved = RESERVED_TOOL_PREFIXES.find((p) => name.startsWith(p));
  if (reserved !== undefined) return { ok: false, error: `tool name ${name} (of function ${functionName}) starts with the reserved prefix ${reserved}` };
  if (name.length > TOOL_NAME_MAX) name = `${name.slice(0, KEPT_ON_TRUNCATE)}_${hash('sha256', functionName, 'hex').slice(0, 8)}`;
  return { ok: true, name };
}

export interface ToolNameCollision {
  name: string;
  function_ids: string[];
  function_names: string[];
}

/** Groups of functions whose names sanitise to the same tool name; names the sanitiser refuses are not grouped. */
export function toolNameCollisions(functions: Array<{ id: string; name: string }>): ToolNameCollision[] {
  const byTool = new Map<string, Array<{ id: string; name: string }>>();
  for (const fn of functions) {
    const t = toolName(fn.name);
    if (!t.ok) continue;
    const group = byTool.get(t.name);
    if (group) group.push(fn);
    else byTool.set(t.name, [fn]);
  }
  return [...byTool]
    .filter(([, group]) => group.length > 1)
    .map(([name, group]) => ({ name, function_ids: group.map((f) => f.id), function_names: group.map((f) => f.name) }));
}
