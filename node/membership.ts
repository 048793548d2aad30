/**
 * Cluster membership: every node heartbeats its record into the ORVA_MEMBERS
 * KV bucket, whose entries expire (bucket max age) when a node stops beating;
 * a graceful stop deletes its key at once. The live member list is refreshed
 * with each beat, so reads of it cost nothing.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { BUCKETS } from '../protocol/subjects.ts';

/** A heartbeat every BEAT_MS; a member missing for TTL_MS is gone. */
const BEAT_MS = 3_000;
const TTL_MS = 10_000;

export interface Member {
  node: string;
  /** Where its HTTP ingress listens (as configured). */
  address: string;
  started_at: string;
  beat_at: string;
}

export class Membership {
  private kv: KV | null = null;
  private timer: NodeJS.Timeout | null = null;
  private live: Member[] = [];
  private readonly startedAt = new Date().toISOString();
  private address = '';

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: string,
    private readonly replicas: number,
    private readonly log: Logger,
  ) {}

  /** `address`: where this node's ingress listens, for peers and operators. */
  async join(address: string): Promise<void> {
    this.address = address;
    this.kv = await new Kvm(this.nc).create(BUCKETS.members, { ttl: TTL_MS, history: 1, replicas: this.replicas });
    await this.beat();
    this.timer = setInterval(() => void this.beat(), BEAT_MS);
    this.timer.unref();
  }

  /** The members seen at the last beat, this node included. */
  members(): readonly Member[] {
    return this.live;
  }

  async leave(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.kv?.delete(this.nodeId).catch(() => {});
  }

  private async beat(): Promise<void> {
    const kv = this.kv!;
    try {
      const me: Member = { node: this.nodeId, address: this.address, started_at: this.startedAt, beat_at: new Date().toISOString() };
      await kv.put(this.nodeId, JSON.stringify(me));
      const live: Member[] = [];
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key);
        if (entry && entry.operation === 'PUT') live.push(entry.json<Member>());
      }
      this.live = live.sort((a, b) => a.node.localeCompare(b.node));
    } catch (err) {
      this.log.warn({ err }, 'membership heartbeat failed');
    }
  }
}
