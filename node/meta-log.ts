/**
 * The write path: validate (done by the caller), build the command, publish
 * it to ORVA_META and await the JetStream ack, then wait until this node's
 * MetaApplier has applied it, and turn its outcome into a result or an error.
 */
import { type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { MetaApplier } from '../actors/meta-applier.ts';
import { OrvaError } from '../protocol/errors.ts';
import { uuidv7 } from '../protocol/ids.ts';
import type { MetaCommand, MetaEnvelope } from '../protocol/meta-commands.ts';
import { STREAMS, subjects } from '../protocol/subjects.ts';

/** How long a write waits for its own node to apply it before answering 503. */
const APPLY_TIMEOUT_MS = 10_000;

export async function ensureMetaStream(jsm: JetStreamManager, replicas: number): Promise<void> {
  const config = {
    name: STREAMS.meta,
    subjects: [subjects.metaAll()],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    num_replicas: replicas,
    // Deduplicates a publish retried after a lost ack (by Nats-Msg-Id).
    duplicate_window: 120_000_000_000,
  };
  try {
    await jsm.streams.info(STREAMS.meta);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (err) {
      // Another node created it between our info and add: that is fine.
      await jsm.streams.info(STREAMS.meta).catch(() => {
        throw err;
      });
    }
  }
}

export class MetaLog {
  constructor(
    private readonly js: JetStreamClient,
    private readonly applier: MetaApplier,
    private readonly nodeId: string,
  ) {}

  /** The newest sequence in ORVA_META; with the store's applied sequence it gives the apply lag. */
  async streamLastSeq(): Promise<number> {
    const jsm = await this.js.jetstreamManager(false);
    return (await jsm.streams.info(STREAMS.meta)).state.last_seq;
  }

  /** Publish a command and resolve once applied here; an apply-time conflict becomes an OrvaError. */
  async submit(cmd: MetaCommand): Promise<void> {
    const envelope: MetaEnvelope = { id: uuidv7(), origin: this.nodeId, cmd };
    // Register before publishing: the local apply may beat the publish ack.
    const applied = this.applier.waitFor(envelope.id, APPLY_TIMEOUT_MS);
    applied.catch(() => {});
    try {
      const ack = await this.js.publish(subjects.metaCommands(), JSON.stringify(envelope), { msgID: envelope.id, timeout: 5_000 });
      this.applier.noteStreamSeq(ack.seq);
    } catch (err) {
      this.applier.cancelWait(envelope.id);
      throw new OrvaError('UNAVAILABLE', `the metadata log is unavailable (${cmd.type} not published)`, undefined, { cause: err });
    }
    let outcome;
    try {
      outcome = await applied;
    } catch (err) {
      throw new OrvaError('UNAVAILABLE', `the write was accepted but not yet applied on this node (${cmd.type}); retry the read shortly`, undefined, { cause: err });
    }
    if (!outcome.ok) throw new OrvaError(outcome.code, outcome.message, outcome.details);
  }
}
