import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, eventually } from '../helpers/assert.ts';
import { createFn, deploy, deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NatsHandle, type NodeHandle, startNats, startNode } from '../helpers/processes.ts';

let nats: NatsHandle;
let a: NodeHandle;
let b: NodeHandle;
let key = '';

before(async () => {
  nats = await startNats();
  a = await startNode({ natsUrl: nats.url, expectAdminKey: true });
  b = await startNode({ natsUrl: nats.url, expectAdminKey: false });
  key = a.adminKey;
  b = { ...b, adminKey: key };
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await nats?.stop();
});

const get = (n: NodeHandle, path: string) => call(n.url, 'GET', path, { key });

/** Follow next_cursor from the first page to the last; returns every page's rows (under `field`) and the page sizes. */
async function allPages(n: NodeHandle, path: string, field: string): Promise<{ rows: any[]; sizes: number[] }> {
  const rows: any[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await get(n, cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`);
    assert.equal(r.status, 200, r.text);
    assert.ok('next_cursor' in r.json, 'every page says whether another follows');
    rows.push(...r.json[field]);
    sizes.push(r.json[field].length);
    cursor = r.json.next_cursor;
    assert.ok(sizes.length <= 100, 'paging ends');
  } while (cursor !== null);
  return { rows, sizes };
}

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

test('pagination - functions page with limit and cursor, oldest first, every function once, the last page says null', async () => {
  const made: string[] = [];
  for (let i = 0; i < 7; i++) made.push(await createFn(a, { runtime: i % 2 === 0 ? 'node' : 'python' }));
  const whole = await get(a, '/api/v1/functions');
  assert.equal(whole.json.next_cursor, null, 'the default limit covers a small node in one page, as the seed did');
  const { rows, sizes } = await allPages(a, '/api/v1/functions?limit=3', 'functions');
  assert.deepEqual(ids(rows), ids(whole.json.functions));
  assert.deepEqual(sizes, [3, 3, 1]);
  for (const id of made) assert.ok(ids(rows).includes(id));

  // A page that ends exactly at the last function says so: no empty page after it.
  const exact = await get(a, `/api/v1/functions?limit=${whole.json.functions.length}`);
  assert.equal(exact.json.next_cursor, null);

  // Filters and paging together: only python functions, two at a time.
  const python = await allPages(a, '/api/v1/functions?runtime=python&limit=2', 'functions');
  assert.deepEqual(ids(python.rows), ids(whole.json.functions.filter((f: any) => f.runtime === 'python')));
  assert.ok(python.rows.length >= 3);
  const active = await allPages(a, '/api/v1/functions?status=active&runtime=node&limit=1', 'functions');
  assert.deepEqual(ids(active.rows), ids(whole.json.functions.filter((f: any) => f.runtime === 'node' && f.status === 'active')));

  // The cursor names a position, not a row: the next page still follows when the row it names is deleted.
  const first = await get(a, '/api/v1/functions?limit=2');
  const gone = first.json.functions[1].id;
  assert.equal((await call(a.url, 'DELETE', `/api/v1/functions/${gone}`, { key })).status, 200);
  const next = await get(a, `/api/v1/functions?limit=2&cursor=${first.json.next_cursor}`);
  assert.deepEqual(ids(next.json.functions), ids(whole.json.functions).slice(2, 4));

  // Another node continues a page this one started (the cursor is the sort key, the same on every node).
  const fromB = await eventually('node b has every function', async () => {
    const r = await get(b, `/api/v1/functions?limit=2&cursor=${first.json.next_cursor}`);
    return r.json.functions.length === 2 ? r : undefined;
  });
  assert.deepEqual(fromB.json, next.json);
});

test('pagination - bad limits and garbled cursors on every list answer 400 VALIDATION with the envelope', async () => {
  const fn = await createFn(a);
  const deploymentCursor = Buffer.from('01900000-0000-7000-8000-000000000000').toString('base64url');
  const lists: Array<[string, string[]]> = [
    ['/api/v1/functions', ['limit=0', 'limit=-1', 'limit=1.5', 'limit=abc', 'limit=', 'limit=10001', 'cursor=', 'cursor=***', 'cursor=abc', `cursor=${deploymentCursor}`]],
    [`/api/v1/functions/${fn}/deployments`, ['limit=0', 'limit=-3', 'limit=2.5', 'limit=x', 'limit=1001', 'cursor=', 'cursor=%00', `cursor=${Buffer.from('not-an-id').toString('base64url')}`, `cursor=${deploymentCursor}=`]],
    ['/api/v1/executions', ['limit=0', 'limit=-1', 'limit=0.5', 'limit=ten', 'limit=1001', 'cursor=', 'cursor=Zm9v', `cursor=${Buffer.from('2026-01-01T00:00:00.000Z\n01900000-0000-7000-8000-000000000000').toString('base64url')}`]],
  ];
  for (const [path, queries] of lists) {
    for (const q of queries) {
      const r = await get(a, `${path}?${q}`);
      assertError(r, 400, 'VALIDATION');
      assert.ok(r.json.error.details.issues.some((i: { path: string }) => q.startsWith(`${i.path}=`)), `${path}?${q} names the field: ${r.text}`);
    }
  }
  // The largest pages are allowed.
  assert.equal((await get(a, '/api/v1/functions?limit=10000')).status, 200);
  assert.equal((await get(a, `/api/v1/functions/${fn}/deployments?limit=1000`)).status, 200);
  assert.equal((await get(a, '/api/v1/executions?limit=1000')).status, 200);
});

test('pagination - a function’s deployments page newest first by cursor', async () => {
  const fn = await createFn(a);
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.push((await deploy(a, fn, `exports.handler = async () => ${i};`)).id);
  const whole = await get(a, `/api/v1/functions/${fn}/deployments`);
  assert.deepEqual(ids(whole.json.deployments), [...made].reverse());
  assert.equal(whole.json.next_cursor, null);
  const { rows, sizes } = await allPages(a, `/api/v1/functions/${fn}/deployments?limit=2`, 'deployments');
  assert.deepEqual(ids(rows), [...made].reverse());
  assert.deepEqual(sizes, [2, 2, 1]);
});

test('pagination - executions page across the cluster: one cursor walks both nodes’ records, newest first, each once, with function_id', async () => {
  const fn = await deployed(a, `exports.handler = async () => 'ok';`);
  const other = await deployed(a, `exports.handler = async () => 'other';`);
  const served: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (const n of [a, b]) {
      const r = await invoke(n, fn, { key });
      assert.equal(r.status, 200, r.text);
      served.push(r.headers.get('x-orva-execution-id')!);
    }
    assert.equal((await invoke(b, other, { key })).status, 200);
  }
  const newestFirst = [...served].sort().reverse();
  // Membership heartbeats: both nodes must see each other before a list counts on two answers.
  await eventually('both nodes answer the list', async () => {
    const r = await get(a, `/api/v1/executions?function_id=${fn}&limit=1000`);
    return r.json.executions.length === served.length ? true : undefined;
  });
  for (const n of [a, b]) {
    const { rows, sizes } = await allPages(n, `/api/v1/executions?function_id=${fn}&limit=3`, 'executions');
    assert.deepEqual(ids(rows), newestFirst, 'every record once, newest first, from both nodes');
    assert.deepEqual(sizes, [3, 3, 2]);
    assert.equal(new Set(rows.map((r: { node: string }) => r.node)).size, 2, 'records of both nodes');
  }
  // A page started on one node continues on the other.
  const first = await get(a, `/api/v1/executions?function_id=${fn}&limit=5`);
  const rest = await get(b, `/api/v1/executions?function_id=${fn}&limit=5&cursor=${first.json.next_cursor}`);
  assert.deepEqual([...ids(first.json.executions), ...ids(rest.json.executions)], newestFirst);
  assert.equal(rest.json.next_cursor, null);
  // Without the filter, the other function's records are in the walk too.
  const all = await allPages(b, '/api/v1/executions?limit=4', 'executions');
  assert.equal(all.rows.length, 12);
  assert.deepEqual(ids(all.rows), [...ids(all.rows)].sort().reverse());
});
