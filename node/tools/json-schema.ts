/**
 * A tool's input as JSON Schema, from its zod schema (zod 4's own output, the
 * input side of transforms). Computed once per schema: tools/list answers
 * from the cache.
 */
import { z } from 'zod';

const cache = new WeakMap<z.ZodType, Record<string, unknown>>();

export function inputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  let out = cache.get(schema);
  if (out !== undefined) return out;
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    // env_vars is a custom guard (no own "__proto__") piped into a string record: describe it as the record it is.
    unrepresentable: 'any',
    override: (c) => {
      if ((c.zodSchema as { _zod: { def: { type: string } } })._zod.def.type === 'custom') Object.assign(c.jsonSchema, { type: 'object', additionalProperties: { type: 'string' } });
    },
  }) as Record<string, unknown>;
  out = rest;
  cache.set(schema, out);
  return out;
}
