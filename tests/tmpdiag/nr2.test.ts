import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { call } from '/work/main/tests/helpers/http.ts';
import { startNode } from '/work/main/tests/helpers/processes.ts';
async function state(dataDir: string) {
  const port = /listen: "([^"]+)"/.exec(readFileSync(join(dataDir, 'nats.conf'), 'utf8'))![1];
  const nc = await connect({ servers: `nats://${port}` });
  const info = await (await jetstreamManager(nc)).streams.info('ORVA_META');
  await nc.close();
  const db = new Database(join(dataDir, 'orva.db'), { readonly: true });
  const seq = (db.prepare("SELECT value FROM meta_state WHERE key='applied_seq'").get() as any).value;
  db.close();
  return `stream first ${info.state.first_seq} last ${info.state.last_seq} msgs ${info.state.messages}; applied ${seq}`;
}
test('p', async () => {
  const node = await startNode();
  for (let i = 0; i < 3; i++) await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, body: { name: `pre${i}`, runtime: 'node' } });
  console.log('before kill', await state(node.dataDir));
  const pid = Number(execFileSync('pgrep', ['-f', node.dataDir], { encoding: 'utf8' }).trim());
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 1000));
  console.log('after restart', await state(node.dataDir));
  for (let i = 0; i < 6; i++) {
    const s = Date.now();
    const r = await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, body: { name: `n${i}`, runtime: 'node' } });
    console.log(Date.now() - t0, 'took', Date.now() - s, r.status, r.json?.error?.message ?? '', await state(node.dataDir));
  }
  console.log(node.output().split('\n').filter((l) => !l.includes('"request"')).slice(3).map((l) => l.slice(0, 250)).join('\n'));
  node.proc.kill('SIGKILL');
});
