/**
 * Page cursors of the list endpoints. A cursor names the last row of the
 * page it ends (its sort key), so the next page starts strictly after that
 * row whatever was created or deleted meanwhile, and any node (for
 * executions, every node of the cluster) can continue it. Clients treat it
 * as opaque: base64url of the key's parts, checked on the way back in, so a
 * garbled or hand-made one is a VALIDATION error rather than a wrong page.
 */
import { z } from 'zod';
import { UUID_RE } from './ids.ts';

const ISO_MS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]{1,400}$/;

/** Where a page of functions (ordered by created_at, then id) ends. */
export interface FunctionCursor {
  created_at: string;
  id: string;
}

function encode(parts: string[]): string {
  return Buffer.from(parts.join('\n'), 'utf8').toString('base64url');
}

/** The parts of a cursor, or null unless it is exactly what `encode` makes of `count` parts. */
function decode(cursor: string, count: number): string[] | null {
  if (!BASE64URL_RE.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  // Node's decoder skips what it cannot read: only a cursor that round-trips is one we made.
  if (Buffer.from(text, 'utf8').toString('base64url') !== cursor) return null;
  const parts = text.split('\n');
  return parts.length === count ? parts : null;
}

/** The cursor after a function of a created_at, id ordered page. */
export function functionCursorAfter(row: FunctionCursor): string {
  return encode([row.created_at, row.id]);
}

/** The cursor after a row of an id-descending page (deployments, executions: uuidv7 ids sort by time). */
export function idCursorAfter(row: { id: string }): string {
  return encode([row.id]);
}

const NOT_A_CURSOR = 'not a cursor from a previous page of this list';

export const functionCursor = z
  .string()
  .transform((s, ctx): FunctionCursor => {
    const parts = decode(s, 2);
    if (!parts || !ISO_MS_RE.test(parts[0]!) || !UUID_RE.test(parts[1]!)) {
      ctx.addIssue({ code: 'custom', message: NOT_A_CURSOR });
      return z.NEVER;
    }
    return { created_at: parts[0]!, id: parts[1]! };
  });

/** Decodes to the id the next page starts below. */
export const idCursor = z.string().transform((s, ctx): string => {
  const parts = decode(s, 1);
  if (!parts || !UUID_RE.test(parts[0]!)) {
    ctx.addIssue({ code: 'custom', message: NOT_A_CURSOR });
    return z.NEVER;
  }
  return parts[0]!;
});
