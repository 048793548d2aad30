/**
 * The escape suite, network side: handlers in both network modes try to
 * reach the host — a loopback server the test starts, the node's own port,
 * its embedded NATS, and (egress) the host's own interface addresses, the
 * sandbox's gateway and link-local metadata addresses — and every attempt
 * must come back empty, for node and python. An egress function must still
 * reach a server outside the sandbox's loopback: an HTTP server in a network
 * namespace the test creates (tests/helpers/netns.ts). Traffic only ever goes
 * to loopback or that namespace (169.254.169.254 is only ever tried from
 * inside a sandbox, where it must be refused). After the suite: nothing of
 * the node is left.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deployed, type FnOptions, invoke } from '../helpers/functions.ts';
import { type NetnsHost, startNetnsHost } from '../helpers/netns.ts';
import { HostWatch } from '../helpers/host-watch.ts';
import { type NodeHandle, startNode, tempDir } from '../helpers/processes.ts';

type Runtime = 'node' | 'python';
type Mode = 'none' | 'egress';
const RUNTIMES: Runtime[] = ['node', 'python'];
const MODES: Mode[] = ['none', 'egress'];

// ---- the probes: connect to each [host, port] (a symbolic host is resolved inside), send a request, report what came back

const NODE_NET = String.raw`
const net = require('net'); const fs = require('fs'); const http = require('http');
function gateways() {
  const out = [];
  try { for (const l of fs.readFileSync('/proc/net/route', 'utf8').trim().split('\n').slice(1)) { const f = l.split(/\s+/); if (f[1] === '00000000' && f[2] !== '00000000') { const h = Buffer.from(f[2], 'hex'); out.push([h[3], h[2], h[1], h[0]].join('.')); } } } catch {}
  try { for (const l of fs.readFileSync('/etc/resolv.conf', 'utf8').split('\n')) { const m = /^nameserver\s+(\S+)/.exec(l); if (m) out.push(m[1]); } } catch {}
  return out;
}
function attempt(host, port) {
  return new Promise((resolve) => {
    let connected = false; let got = ''; let settled = false;
    const s = net.connect({ host, port, timeout: 1500 });
    const done = (how) => { if (settled) return; settled = true; s.destroy(); resolve({ host, port, connected, how, got: got.slice(0, 200) }); };
    s.on('connect', () => { connected = true; s.write('GET /api/v1/system/health HTTP/1.0\r\nHost: probe\r\n\r\n'); setTimeout(() => done('connected'), 800); });
    s.on('data', (c) => { got += c; });
    s.on('timeout', () => done('timeout'));
    s.on('error', (e) => done(e.code || e.message));
    s.on('close', () => done(connected ? 'closed' : 'closed-before-connect'));
  });
}
exports.handler = async (e) => {
  const a = JSON.parse(e.body);
  if (a.op === 'fetch') {
    return new Promise((resolve) => {
      const req = http.get(a.url, { timeout: 5000 }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve({ ok: true, status: res.statusCode, body: b })); });
      req.on('timeout', () => { req.destroy(); resolve({ ok: false, code: 'timeout' }); });
      req.on('error', (err) => resolve({ ok: false, code: err.code || err.message }));
    });
  }
  const targets = [];
  for (const [host, port] of a.targets) {
    if (host === 'GATEWAYS') for (const g of gateways()) targets.push([g, port]);
    else targets.push([host, port]);
  }
  return Promise.all(targets.map(([h, p]) => attempt(h, p)));
};
`;

const PYTHON_NET = String.raw`
import errno, json, socket, threading, urllib.request

def gateways():
    out = []
    try:
        with open('/proc/net/route') as f:
            for line in f.read().strip().split('\n')[1:]:
                fl = line.split()
                if fl[1] == '00000000' and fl[2] != '00000000':
                    b = bytes.fromhex(fl[2])
                    out.append('.'.join(str(x) for x in reversed(b)))
    except OSError:
        pass
    try:
        with open('/etc/resolv.conf') as f:
            for line in f:
                p = line.split()
                if len(p) >= 2 and p[0] == 'nameserver':
                    out.append(p[1])
    except OSError:
        pass
    return out

def attempt(host, port, out, i):
    r = {'host': host, 'port': port, 'connected': False, 'how': '', 'got': ''}
    try:
        s = socket.create_connection((host, port), timeout=1.5)
        r['connected'] = True
        try:
            s.sendall(b'GET /api/v1/system/health HTTP/1.0\r\nHost: probe\r\n\r\n')
            s.settimeout(0.8)
            r['got'] = s.recv(200).decode('latin1')
            r['how'] = 'connected'
        except OSError as e:
            r['how'] = type(e).__name__
        s.close()
    except OSError as e:
        r['how'] = errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__
    out[i] = r

def handler(event):
    a = json.loads(event['body'])
    if a['op'] == 'fetch':
        try:
            with urllib.request.urlopen(a['url'], timeout=5) as res:
                return {'ok': True, 'status': res.status, 'body': res.read().decode()}
        except Exception as e:
            return {'ok': False, 'code': type(e).__name__ + ': ' + str(e)}
    targets = []
    for host, port in a['targets']:
        if host == 'GATEWAYS':
            targets += [[g, port] for g in gateways()]
        else:
            targets.append([host, port])
    out = [None] * len(targets)
    threads = [threading.Thread(target=attempt, args=(h, p, out, i)) for i, (h, p) in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    return out
`;


// ---- host-side listeners: each records every connection and greets it, so a reach cannot go unnoticed

interface Listener {
  host: string;
  port: number;
  connections: number;
  server: Server;
}

const GREETING = 'orva-host-listener\n';

function listen(host: string, port = 0): Promise<Listener> {
  return new Promise((res, rej) => {
    const l: Listener = { host, port: 0, connections: 0, server: createServer((s) => {
      l.connections++;
      s.on('error', () => {});
      s.end(GREETING);
    }) };
    l.server.once('error', rej);
    l.server.listen(port, host, () => {
      l.port = (l.server.address() as { port: number }).port;
      res(l);
    });
  });
}

/** The host's own non-loopback addresses (IPv6 link-local ones need a scope and are skipped). */
function hostAddresses(exclude: string[]): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && !(a.family === 'IPv6' && a.address.startsWith('fe80')))
    .map((a) => a!.address)
    .filter((a) => !exclude.includes(a));
}

// ---- the node under attack

let node: NodeHandle;
let nodeTmp: string;
let natsPort = 0;
let netns: NetnsHost;
let watch: HostWatch;
const loopback: Listener[] = [];
const hostIfs: Listener[] = [];
/** probe function ids by runtime and mode */
const probes: Record<string, string> = {};
let canary = '';

before(async () => {
  netns = await startNetnsHost();
  nodeTmp = tempDir('sec-net-tmpdir');
  watch = new HostWatch();
  watch.begin();
  node = await startNode({ env: { TMPDIR: nodeTmp } });
  watch.started(node);
  natsPort = Number(/listen:\s*"?[^:"]*:(\d+)/.exec(readFileSync(join(node.dataDir, 'nats.conf'), 'utf8'))?.[1]);
  assert.ok(natsPort > 0, 'the embedded NATS port is in nats.conf');
  loopback.push(await listen('127.0.0.1'));
  // The host's own interface addresses, the veth's host side included (it is one while the namespace exists).
  for (const a of hostAddresses([netns.address])) hostIfs.push(await listen(a));
  canary = await deployed(node, `exports.handler = async () => 'alive';`);
  const opts = (rt: Runtime, mode: Mode) => ({ runtime: rt, network_mode: mode, timeout_ms: 20_000 }) as FnOptions;
  for (const rt of RUNTIMES) {
    for (const mode of MODES) {
      const r = await deployedOrError(rt === 'node' ? NODE_NET : PYTHON_NET, opts(rt, mode));
      probes[`${rt}/${mode}`] = r;
    }
  }
});

after(async () => {
  if (node && node.proc.exitCode === null) await node.stop();
  for (const l of [...loopback, ...hostIfs]) l.server.close();
  netns?.close();
});

/** Deploy, or remember why it failed (egress not implemented yet): the tests using it then fail with that reason. */
async function deployedOrError(code: string, opts: FnOptions): Promise<string> {
  try {
    return await deployed(node, code, opts);
  } catch (err) {
    return `deploy failed: ${(err as Error).message.slice(0, 500)}`;
  }
}

function probeId(rt: Runtime, mode: Mode): string {
  const id = probes[`${rt}/${mode}`];
  assert.ok(id && !id.startsWith('deploy failed'), `${rt} ${mode} probe: ${id}`);
  return id;
}

interface Reach {
  host: string;
  port: number;
  connected: boolean;
  how: string;
  got: string;
}

/** Ask the probe to connect to `targets`; every attempt must come back empty and no host listener may see a connection. */
async function assertUnreachable(rt: Runtime, mode: Mode, targets: Array<[string, number]>): Promise<Reach[]> {
  const before = [...loopback, ...hostIfs].map((l) => l.connections);
  const r = await invoke(node, probeId(rt, mode), { body: { op: 'connect', targets } });
  assert.equal(r.status, 200, `${rt} ${mode} probe: ${r.status} ${r.text}`);
  const results = r.json as Reach[];
  const reached = results.filter((x) => x.connected || x.got !== '');
  assert.deepEqual(reached, [], `${rt} ${mode}: reached ${JSON.stringify(reached)}`);
  assert.deepEqual([...loopback, ...hostIfs].map((l) => l.connections), before, 'a host listener saw a connection');
  const c = await invoke(node, canary);
  assert.equal(c.status, 200, `the canary must still answer: ${c.text}`);
  watch.sample();
  return results;
}

// ---- the tests

test('control - the test can reach its own listeners and the namespace host, so a refusal below means something', async () => {
  const { connect } = await import('node:net');
  const greet = (host: string, port: number) =>
    new Promise<string>((res) => {
      let got = '';
      const s = connect({ host, port, timeout: 2000 });
      s.on('data', (c) => (got += c));
      s.on('close', () => res(got));
      s.on('error', () => res(got));
      s.on('timeout', () => s.destroy());
    });
  for (const l of [...loopback, ...hostIfs]) assert.equal(await greet(l.host, l.port), GREETING, `${l.host}:${l.port}`);
  for (const l of [...loopback, ...hostIfs]) l.connections = 0;
  for (const host of [netns.address, netns.linkLocal]) {
    const r = await fetch(`http://${host}:${netns.port}/`);
    assert.equal(await r.text(), netns.body, host);
  }
  assert.equal((await fetch(`${node.url}/api/v1/system/health`)).status, 200);
});

for (const rt of RUNTIMES) {
  for (const mode of MODES) {
    test(`${rt} ${mode} - a loopback server on the host, the node's own port and NATS are refused`, async () => {
      const ports = [loopback[0].port, node.port, natsPort];
      const targets: Array<[string, number]> = [];
      for (const p of ports) targets.push(['127.0.0.1', p], ['localhost', p], ['::1', p], ['GATEWAYS', p], ['10.0.2.2', p]);
      await assertUnreachable(rt, mode, targets);
    });
  }

  test(`${rt} none - nothing beyond loopback: the namespace host next door is unreachable`, async () => {
    await assertUnreachable(rt, 'none', [[netns.address, netns.port], [netns.linkLocal, netns.port], ['169.254.169.254', 80]]);
    const r = await invoke(node, probeId(rt, 'none'), { body: { op: 'fetch', url: `http://${netns.address}:${netns.port}/` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, false, `fetched ${JSON.stringify(r.json)}`);
  });

  test(`${rt} egress - the host's own interface addresses and link-local metadata addresses are refused`, async () => {
    const targets: Array<[string, number]> = hostIfs.map((l) => [l.host, l.port]);
    for (const l of hostIfs) targets.push([l.host, node.port], [l.host, natsPort]);
    targets.push([netns.linkLocal, netns.port], ['169.254.169.254', 80]);
    await assertUnreachable(rt, 'egress', targets);
  });

  test(`${rt} egress - a server outside the sandbox's loopback (a network namespace host) is reachable`, async () => {
    const r = await invoke(node, probeId(rt, 'egress'), { body: { op: 'fetch', url: `http://${netns.address}:${netns.port}/` } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ok: true, status: 200, body: netns.body });
    assert.equal((await invoke(node, canary)).status, 200);
    watch.sample();
  });
}

test('escape suite (network) - once the node stops, none of its processes (pasta, slirp4netns, bwrap), cgroups, mounts or temp dirs is left', async () => {
  watch.sample();
  assert.equal(await node.stop(), 0, 'the node did not stop cleanly');
  await watch.assertNothingLeft(nodeTmp);
});
