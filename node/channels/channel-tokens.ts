/**
 * In-memory channel token lookup for /mcp, the channel counterpart of
 * KeyCache: verifying a token touches neither disk nor network. Rebuilt from
 * SQLite whenever a command that changes a channel, its function set or a
 * member function is applied. Uses are recorded in memory and flushed as one
 * `channel.touch` META command periodically, never a META write per call.
 */
import { timingSafeEqual } from 'node:crypto';
import { channelTokenPrefix, isChannelTokenShape, sha256Bytes } from '../auth/tokens.ts';
import type { Store } from '../store/store.ts';

/** What a valid channel token grants: exactly these functions, as tools. */
export interface ChannelGrant {
  channelId: string;
  name: string;
  /**
   * In tool order (by function name). `description` is the channel's
   * override, else the function's own, else null (the tool then gets a
   * generated one).
   */
  functions: Array<{ functionId: string; description: string | null }>;
}

interface CachedChannel {
  /** SHA-256 of the token, decoded from the stored hex once. */
  hash: Buffer;
  expiresAtMs: number | null;
  grant: ChannelGrant;
}

export class ChannelTokens {
  private byPrefix = new Map<string, CachedChannel>();
  private uses = new Map<string, number>();

  constructor(private readonly store: Store) {
    this.reload();
  }

  reload(): void {
    const next = new Map<string, CachedChannel>();
    for (const row of this.store.channels()) {
      next.set(row.prefix, {
        hash: Buffer.from(row.hash, 'hex'),
        expiresAtMs: row.expires_at === null ? null : Date.parse(row.expires_at),
        grant: {
          channelId: row.id,
          name: row.name,
          functions: this.store.channelFunctions(row.id).map((f) => ({ functionId: f.function_id, description: f.description ?? f.function_description })),
        },
      });
    }
    this.byPrefix = next;
  }

  /** The channel's grant if the token is current and unexpired; constant-time on the secret part. */
  verify(token: string, nowMs: number): ChannelGrant | null {
    if (!isChannelTokenShape(token)) return null;
    const entry = this.byPrefix.get(channelTokenPrefix(token));
    if (!entry || !timingSafeEqual(entry.hash, sha256Bytes(token))) return null;
    if (entry.expiresAtMs !== null && entry.expiresAtMs <= nowMs) return null;
    this.uses.set(entry.grant.channelId, nowMs);
    return entry.grant;
  }

  /** Take the uses recorded since the last call. */
  drainUses(): Array<{ id: string; at: string }> {
    const out = [...this.uses].map(([id, ms]) => ({ id, at: new Date(ms).toISOString() }));
    this.uses.clear();
    return out;
  }
}
