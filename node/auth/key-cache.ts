/**
 * In-memory API key lookup, so authenticating a call touches neither disk
 * nor network. Rebuilt from SQLite whenever a key command is applied.
 * Uses are recorded in memory and flushed as one META command periodically,
 * keeping `last_used_at` writes off the request path.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Permission } from '../../protocol/permissions.ts';
import type { Store } from '../store/store.ts';
import { apiKeyPrefix, isApiKeyShape, sha256Bytes } from './tokens.ts';

export interface CachedKey {
  id: string;
  /** SHA-256 of the key, decoded from the stored hex once. */
  hash: Buffer;
  permissions: ReadonlySet<Permission>;
  expiresAtMs: number | null;
}

export class KeyCache {
  private byPrefix = new Map<string, CachedKey>();
  private uses = new Map<string, number>();

  constructor(private readonly store: Store) {
    this.reload();
  }

  reload(): void {
    const next = new Map<string, CachedKey>();
    for (const row of this.store.apiKeys()) {
      next.set(row.prefix, {
        id: row.id,
        hash: Buffer.from(row.hash, 'hex'),
        permissions: new Set(JSON.parse(row.permissions) as Permission[]),
        expiresAtMs: row.expires_at === null ? null : Date.parse(row.expires_at),
      });
    }
    this.byPrefix = next;
  }

  /** The key if it exists and has not expired; constant-time on the secret part. */
  verify(plaintext: string, nowMs: number): CachedKey | null {
    if (!isApiKeyShape(plaintext)) return null;
    const entry = this.byPrefix.get(apiKeyPrefix(plaintext));
    if (!entry || !timingSafeEqual(entry.hash, sha256Bytes(plaintext))) return null;
    if (entry.expiresAtMs !== null && entry.expiresAtMs <= nowMs) return null;
    this.uses.set(entry.id, nowMs);
    return entry;
  }

  /** Take the uses recorded since the last call. */
  drainUses(): Array<{ id: string; at: string }> {
    const out = [...this.uses].map(([id, ms]) => ({ id, at: new Date(ms).toISOString() }));
    this.uses.clear();
    return out;
  }
}
