/**
 * network_mode `egress`: outbound TCP/UDP through slirp4netns, a userspace
 * TCP/IP stack attached to the worker's own network namespace — and never to
 * the host itself.
 *
 * How it is wired (per worker):
 *  1. bwrap creates the new net namespace as for `none`, reports the
 *     namespace's pid on `--info-fd`, and waits on `--block-fd` before it
 *     execs the runtime, so the handler never runs without its network.
 *  2. The node starts slirp4netns on that pid (`--configure` gives the
 *     namespace tap0 = 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3), with
 *     `--disable-host-loopback` (10.0.2.2 does not lead to the host's
 *     127.0.0.1), `--enable-sandbox` (its own empty mount namespace, every
 *     capability dropped but NET_BIND_SERVICE) and `--enable-seccomp`.
 *     It is started through the same shell prelude as the worker, so it sits
 *     in the worker's cgroups: its memory and pids count against the worker,
 *     and removing the worker's cgroups kills it if anything else did not.
 *     `--exit-fd` is a pipe the node holds: slirp4netns exits when the worker
 *     does (the node closes it) and when the node itself dies (the kernel
 *     closes it).
 *  3. Once slirp4netns says ready, the node writes to the block fd.
 *
 * Why a firewall as well: slirp4netns turns the worker's packets into real
 * connect()/sendto() calls made from the host's network namespace, so
 * `--disable-host-loopback` alone leaves every other address of the host
 * (eth0's, a docker bridge's, a veth's) reachable — the node's own port and
 * an embedded NATS included. One nftables table per node (`inet
 * orva_egress_<owner>`, output hook) rejects, for sockets whose cgroup v2 is
 * under the node's `orva/<owner>` group — which holds only the workers'
 * network helpers, since the workers' own sockets live in their own
 * namespaces and never pass the host's hooks:
 *  - any destination the host's routing table calls local (`fib daddr type
 *    local`: loopback and every address of every interface, whatever gets
 *    added later), plus broadcast/multicast;
 *  - 127.0.0.0/8, 0.0.0.0/8, 169.254.0.0/16 (link-local, cloud metadata),
 *    and their IPv6 counterparts (::1, fe80::/10, ::ffff:0:0/96 mapped);
 *  - the addresses of the cluster's NATS (and any other `deny` given), which
 *    may live on other hosts.
 * The one exception: when the host's resolver is local (systemd-resolved on
 * 127.0.0.53, say), port 53 on it stays open so slirp4netns's DNS forwarder
 * works. The firewall needs a cgroup v2 hierarchy (pure v2, or hybrid as on
 * these machines); without one, egress is refused rather than unfiltered.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { relative } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { SpawnSpec } from './driver.ts';
import type { WorkerAttachment, WorkerHook, HookContext } from './bwrap.ts';
import { ownerKey } from './cgroups.ts';

const SLIRP = '/usr/bin/slirp4netns';
const NFT = '/usr/sbin/nft';
/** slirp4netns's built-in addresses (--cidr default 10.0.2.0/24). */
const SLIRP_DNS = '10.0.2.3';
const RESOLV_CONF = `nameserver ${SLIRP_DNS}\noptions timeout:2 attempts:2\n`;
/** How long slirp4netns may take to configure the namespace. */
const READY_TIMEOUT_MS = 5_000;

const TABLE_PREFIX = 'orva_egress_';
/** Where nft looks up `socket cgroupv2` paths. */
const NFT_CGROUP_ROOT = '/sys/fs/cgroup';
const tableOf = (owner: string) => `${TABLE_PREFIX}${owner.replace('-', '_')}`;

export interface EgressOptions {
  /** The node's group in the cgroup v2 hierarchy (`Cgroups.v2Group`); null: egress unavailable. */
  cgroupV2: { dir: string; level: number } | null;
  owner: string;
  /** More destinations to refuse: IPs or CIDRs (the cluster's NATS, peers). */
  deny?: readonly string[];
  /** The host's resolvers (default: /etc/resolv.conf's nameservers), for the local-resolver exception. */
  resolvers?: readonly string[];
}

/** Hostnames and IPs out of `nats://a:4222,nats://b:4222`-style URLs, resolved to addresses. */
export async function addressesOfUrls(urls: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const list of urls) {
    for (const raw of list.split(',')) {
      let host: string;
      try {
        host = new URL(raw.includes('://') ? raw.trim() : `nats://${raw.trim()}`).hostname.replace(/^\[|\]$/g, '');
      } catch {
        continue;
      }
      if (isIP(host)) out.add(host);
      else if (host) for (const a of await lookup(host, { all: true }).catch(() => [])) out.add(a.address);
    }
  }
  return [...out];
}

function hostResolvers(): string[] {
  try {
    return [...readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!).filter((a) => isIP(a));
  } catch {
    return [];
  }
}

/** The nftables ruleset for one node's network helpers. */
export function egressRuleset(table: string, cgroupV2: { dir: string; level: number }, deny: readonly string[], resolvers: readonly string[]): string {
  // nft resolves the path against /sys/fs/cgroup (to the group's id) when the rule is loaded, whichever
  // hierarchy it is in: on a hybrid host that is `unified/orva/<owner>`. The level is the depth in that hierarchy.
  const path = relative(NFT_CGROUP_ROOT, cgroupV2.dir);
  if (path.startsWith('..') || !/^[A-Za-z0-9/_.-]+$/.test(path)) throw new Error(`egress: cgroup ${cgroupV2.dir} is not under ${NFT_CGROUP_ROOT}`);
  const match = `socket cgroupv2 level ${cgroupV2.level} "${path}"`;
  const v4 = ['127.0.0.0/8', '0.0.0.0/8', '169.254.0.0/16', ...deny.filter((a) => isIP(a.split('/')[0]!) === 4)];
  const v6 = ['::1', '::/128', 'fe80::/10', '::ffff:0:0/96', ...deny.filter((a) => isIP(a.split('/')[0]!) === 6)];
  const dns = resolvers.map((r) => `    ${match} ${isIP(r) === 6 ? 'ip6' : 'ip'} daddr ${r} meta l4proto { tcp, udp } th dport 53 accept`);
  return [
    `table inet ${table} {`,
    '  chain output {',
    '    type filter hook output priority -10; policy accept;',
    ...dns,
    `    ${match} fib daddr type { local, broadcast, multicast, anycast } reject`,
    `    ${match} ip daddr { ${v4.join(', ')} } reject`,
    `    ${match} ip6 daddr { ${v6.join(', ')} } reject`,
    '  }',
    '}',
  ].join('\n');
}

/**
 * The hook that gives `egress` workers their network. Without it the driver
 * refuses `egress` specs.
 */
export class Egress implements WorkerHook {
  readonly #options: EgressOptions;
  #firewall = false;

  constructor(options: EgressOptions) {
    this.#options = options;
  }

  /** Installs this node's table (once, on the first egress worker). Throws when nftables or cgroup v2 is missing. */
  #ensureFirewall(): void {
    if (this.#firewall) return;
    const group = this.#options.cgroupV2;
    if (!group) throw new Error('network_mode egress needs a cgroup v2 hierarchy for its firewall; this host has none');
    const table = tableOf(this.#options.owner);
    // Only local resolvers need the exception; a remote one is not refused in the first place.
    const resolvers = (this.#options.resolvers ?? hostResolvers()).filter((r) => r.startsWith('127.') || r === '::1' || isLocalAddress(r));
    const ruleset = egressRuleset(table, group, this.#options.deny ?? [], resolvers);
    // Replace, not add: an earlier table of this owner (a previous driver in this process) is redone.
    try {
      execFileSync(NFT, ['delete', 'table', 'inet', table], { stdio: 'ignore' });
    } catch {}
    execFileSync(NFT, ['-f', '-'], { input: ruleset, stdio: ['pipe', 'ignore', 'pipe'] });
    this.#firewall = true;
    // A clean exit takes the table along (every helper is gone by then); after a crash the next start does.
    process.once('exit', () => {
      try {
        execFileSync(NFT, ['delete', 'table', 'inet', table], { stdio: 'ignore' });
      } catch {}
    });
  }

  attach(spec: SpawnSpec, ctx: HookContext): WorkerAttachment | null {
    if (spec.networkMode !== 'egress') return null;
    this.#ensureFirewall();
    const info = ctx.fds.channel();
    const block = ctx.fds.channel();
    const prelude = [...ctx.prelude];
    let slirp: ChildProcess | null = null;
    let exitPipe: Writable | null = null;
    let done = false;
    return {
      args: ['--info-fd', info, '--block-fd', block, '--ro-bind-data', ctx.fds.add(RESOLV_CONF), '/etc/resolv.conf'],
      started: (child, fail) => {
        const infoStream = child.stdio[Number(info)] as Readable;
        const blockStream = child.stdio[Number(block)] as Writable;
        let text = '';
        const timer = setTimeout(() => fail('egress network not ready in time'), READY_TIMEOUT_MS);
        const onInfo = (chunk: Buffer) => {
          text += chunk.toString();
          const pid = /"child-pid":\s*(\d+)/.exec(text)?.[1];
          if (!pid || slirp || done) return;
          infoStream.off('data', onInfo);
          const script = `${[...prelude, 'unset PWD'].join(' && ')} && exec "$@"`;
          slirp = spawn('/bin/sh', ['-c', script, 'orva-egress', SLIRP, '--configure', '--mtu=65520', '--disable-host-loopback',
            '--enable-sandbox', '--enable-seccomp', '--ready-fd=3', '--exit-fd=4', '--netns-type=path', `/proc/${pid}/ns/net`, 'tap0'], {
            env: {},
            cwd: '/',
            stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
          });
          for (const s of slirp.stdio) s?.on('error', () => {});
          exitPipe = slirp.stdio[4] as Writable;
          let err = '';
          slirp.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-500)));
          slirp.stdio[3]!.once('data', () => {
            clearTimeout(timer);
            if (!done) blockStream.write('1');
          });
          slirp.once('exit', (code, signal) => {
            clearTimeout(timer);
            if (!done) fail(`egress network helper exited (code ${code}, signal ${signal}): ${err.trim()}`);
          });
        };
        infoStream.on('data', onInfo);
      },
      release: () => {
        done = true;
        // Closing the exit fd ends slirp4netns cleanly; SIGKILL in case it is stuck.
        (exitPipe as Writable | null)?.destroy();
        (slirp as ChildProcess | null)?.kill('SIGKILL');
      },
    };
  }

  /** Deletes the tables of nodes that are gone. Returns their names. */
  static cleanupStale(): string[] {
    let listing: string;
    try {
      listing = execFileSync(NFT, ['list', 'tables', 'inet'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      return []; // no nftables: nothing was ever installed
    }
    const removed: string[] = [];
    for (const [, table, pid, start] of listing.matchAll(new RegExp(`^table inet (${TABLE_PREFIX}(\\d+)_(\\d+))$`, 'gm'))) {
      if (ownerKey(Number(pid)) === `${pid}-${start}`) continue;
      try {
        execFileSync(NFT, ['delete', 'table', 'inet', table!], { stdio: 'ignore' });
        removed.push(table!);
      } catch {}
    }
    return removed;
  }
}

/** True when `addr` is one of this host's own addresses. */
function isLocalAddress(addr: string): boolean {
  try {
    return execFileSync('/usr/sbin/ip', ['-o', 'addr', 'show'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split(/\s+/).some((w) => w.split('/')[0] === addr);
  } catch {
    return false;
  }
}
