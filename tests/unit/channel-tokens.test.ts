import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newChannelToken } from '../../node/auth/tokens.ts';
import { ChannelTokens } from '../../node/channels/channel-tokens.ts';
import { Store } from '../../node/store/store.ts';
import type { FunctionRecordData, MetaCommand } from '../../protocol/meta-commands.ts';
import { tempDir } from '../helpers/processes.ts';

// A real SQLite store in a temp dir, written only through applied META commands as on a node.
const store = new Store(join(tempDir('channel-tokens'), 'orva.db'));
let seq = 0;
after(() => store.close());

// Apply one command the way the MetaApplier does; asserts it was accepted.
function apply(cmd: MetaCommand): void {
  const outcome = store.applyEnvelope(++seq, { id: `cmd-${seq}`, origin: 'test', cmd });
  assert.deepEqual(outcome, { ok: true }, cmd.type);
}

const AT = '2026-12-01T00:00:00.000Z';
const id = (n: number) => `01900000-0000-7000-8000-${String(n).padStart(12, '0')}`;

function fnRecord(n: number, name: string, description?: string): FunctionRecordData {
  const spec = { name, runtime: 'node', entrypoint: 'handler.js', memory_mb: 128, cpus: 1, timeout_ms: 1000, env_vars: {}, network_mode: 'none', auth_mode: 'none', rate_limit_per_min: null, description } as const;
  return { ...spec, id: id(n), created_at: AT };
}

apply({ type: 'function.create', fn: fnRecord(1, 'alpha', 'Alpha does A.') });
apply({ type: 'function.create', fn: fnRecord(2, 'beta') });
const NOW = Date.parse('2026-12-02T00:00:00.000Z');

// Create a channel over functions 1 and 2 (beta overridden); returns its id and token.
function channel(n: number, expiresAt: string | null = null) {
  const token = newChannelToken();
  apply({ type: 'channel.create', id: id(100 + n), name: `ch-${n}`, description: null, prefix: token.prefix, hash: token.hash, expires_at: expiresAt, functions: [{ function_id: id(2), description: 'Beta, overridden.' }, { function_id: id(1) }], at: AT });
  return { id: id(100 + n), token: token.plaintext };
}

test('channel tokens - a valid token grants exactly its functions with the effective descriptions, in tool order', () => {
  const c = channel(1);
  const tokens = new ChannelTokens(store);
  assert.deepEqual(tokens.verify(c.token, NOW), {
    channelId: c.id,
    name: 'ch-1',
    functions: [
      { functionId: id(1), description: 'Alpha does A.' },
      { functionId: id(2), description: 'Beta, overridden.' },
    ],
  });
});

test('channel tokens - a wrong secret under a real prefix, a malformed token or an API key are refused', () => {
  const c = channel(2);
  const tokens = new ChannelTokens(store);
  const flipped = c.token.slice(0, -1) + (c.token.endsWith('0') ? '1' : '0');
  for (const t of [flipped, c.token.toUpperCase(), `${c.token}0`, c.token.slice(0, -1), '', 'orva_chn_', `orva_${'a'.repeat(40)}`]) assert.equal(tokens.verify(t, NOW), null, t);
});

test('channel tokens - an expired token is refused from its expiry on', () => {
  const c = channel(3, '2026-12-02T00:00:00.000Z');
  const tokens = new ChannelTokens(store);
  assert.notEqual(tokens.verify(c.token, NOW - 1), null);
  assert.equal(tokens.verify(c.token, NOW), null);
});

test('channel tokens - after a reload, rotation refuses the old token, set changes show, deletion refuses the token', () => {
  const c = channel(4);
  const tokens = new ChannelTokens(store);
  const next = newChannelToken();
  apply({ type: 'channel.rotate', id: c.id, prefix: next.prefix, hash: next.hash, at: AT });
  tokens.reload();
  assert.equal(tokens.verify(c.token, NOW), null);
  assert.equal(tokens.verify(next.plaintext, NOW)?.channelId, c.id);
  apply({ type: 'channel.set-functions', id: c.id, functions: [{ function_id: id(2), description: null }], at: AT });
  apply({ type: 'function.update', id: id(2), patch: { description: 'Beta, its own.' }, at: AT });
  tokens.reload();
  assert.deepEqual(tokens.verify(next.plaintext, NOW)?.functions, [{ functionId: id(2), description: 'Beta, its own.' }]);
  apply({ type: 'channel.delete', id: c.id });
  tokens.reload();
  assert.equal(tokens.verify(next.plaintext, NOW), null);
});

test('channel tokens - uses are drained once, and channel.touch only moves last_used_at forward', () => {
  const c = channel(5);
  const tokens = new ChannelTokens(store);
  tokens.drainUses();
  tokens.verify(c.token, NOW);
  tokens.verify(c.token, NOW + 5);
  tokens.verify('orva_chn_' + '0'.repeat(32), NOW + 9);
  const uses = tokens.drainUses();
  assert.deepEqual(uses, [{ id: c.id, at: new Date(NOW + 5).toISOString() }]);
  assert.deepEqual(tokens.drainUses(), []);
  apply({ type: 'channel.touch', uses });
  apply({ type: 'channel.touch', uses: [{ id: c.id, at: new Date(NOW - 60_000).toISOString() }] });
  assert.equal(store.channel(c.id)?.last_used_at, new Date(NOW + 5).toISOString());
});
