/**
 * DNS-rebinding protection for /mcp (the SDK leaves it off): a browser page
 * may call only from the node's own origin or one listed in
 * ORVA_MCP_ALLOWED_ORIGINS. Requests without Origin (MCP clients that are not
 * browsers) pass.
 */
import { OrvaError } from '../../protocol/errors.ts';

export function checkMcpOrigin(headers: Record<string, string>, allowed: ReadonlySet<string>): void {
  const origin = headers.origin;
  if (origin === undefined || allowed.has(origin)) return;
  let host: string | null = null;
  try {
    host = new URL(origin).host;
  } catch {}
  // The node's own origin: the page was served by the host the browser is talking to.
  if (host !== null && host !== '' && host === headers.host) return;
  throw new OrvaError('FORBIDDEN', `Origin ${origin} may not call /mcp`, { origin }, { hint: 'add the origin to ORVA_MCP_ALLOWED_ORIGINS, or call without a browser' });
}
