/**
 * One Orva node: store, NATS (embedded or external), the META applier, the
 * HTTP ingress. `start` brings it up in dependency order; `stop` is the
 * graceful drain: stop taking work, finish in-flight calls, flush, leave.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Objm } from '@nats-io/obj';
import { Builder, MetaApplier, systemClock } from '../actors/index.ts';
import { uuidv7 } from '../protocol/ids.ts';
import type { MetaCommand } from '../protocol/meta-commands.ts';
import { PERMISSIONS } from '../protocol/permissions.ts';
import { BUCKETS, STREAMS } from '../protocol/subjects.ts';
import { Artifacts } from './artifacts.ts';
import { KeyCache } from './auth/key-cache.ts';
import { LoginLimiter } from './auth/login-limiter.ts';
import { newApiKey, sha256Hex } from './auth/tokens.ts';
import { ChannelTokens } from './channels/channel-tokens.ts';
import { type Config, poolDefaults } from './config.ts';
import { apiHandler } from './http/api.ts';
import { HttpServer } from './http/server.ts';
import { ensureMetaStream, MetaLog } from './meta-log.ts';
import { EventBus } from './events.ts';
import { ClusterExecutions } from './executions/cluster-executions.ts';
import { ExecutionLog } from './executions/execution-log.ts';
import { failOrphanedBuilds, failOwnInterruptedBuilds } from './interrupted-builds.ts';
import { Membership } from './membership.ts';
import { NodeMetrics } from './metrics.ts';
import { DURABLE_NATS_SERVER, EmbeddedNats, natsServerDurable } from './nats-embedded.ts';
import { Pools } from './pools.ts';
import { FunctionRegistry } from './registry.ts';
import { deploymentRoutes } from './resources/deployments.ts';
import { tarballDeployRoutes } from './resources/deploy-tarball.ts';
import { eventRoutes } from './resources/events.ts';
import { executionRoutes } from './resources/executions.ts';
import { invokeHandler } from './resources/invoke.ts';
import { functionCaller } from './invoke/function-call.ts';
import { mcpHandler } from './mcp/handler.ts';
import { authRoutes } from './resources/auth.ts';
import { functionRoutes } from './resources/functions.ts';
import { keyRoutes } from './resources/keys.ts';
import { channelRoutes } from './resources/channels.ts';
import { poolConfigRoutes } from './resources/pool-config.ts';
import { routeRoutes } from './resources/routes.ts';
import { secretRoutes } from './resources/secrets.ts';
import { versionRoutes } from './resources/versions.ts';
import { metricRoutes } from './resources/metrics.ts';
import { openApiRoutes } from './resources/openapi.ts';
import { runtimeRoutes } from './resources/runtimes.ts';
import { syscallRoutes } from './resources/syscalls.ts';
import { systemRoutes } from './resources/system.ts';
import { BwrapDriver } from './sandbox/bwrap.ts';
import { loadMasterKey, SecretBox } from './secret-box.ts';
import { RouteTable } from './route-table.ts';
import { restoreSnapshot, Snapshotter } from './snapshots.ts';
import type { Services } from './services.ts';
import { Store } from './store/store.ts';

/** How long a graceful stop waits for in-flight requests. */
const DRAIN_GRACE_MS = 30_000;
/** How long a graceful stop waits for its sandboxes to be gone and released. */
const SETTLE_GRACE_MS = 10_000;
/** How often this node looks for builds whose node left the cluster. */
const ORPHAN_SWEEP_MS = 5_000;

export class OrvaNode {
  private nats: EmbeddedNats | null = null;
  private nc: NatsConnection | null = null;
  private applier: MetaApplier | null = null;
  private http: HttpServer | null = null;
  private touchTimer: NodeJS.Timeout | null = null;
  private orphanTimer: NodeJS.Timeout | null = null;
  private services: Services | null = null;
  port = 0;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { config, log } = this;
    let natsUrl = config.natsUrl;
    if (natsUrl === null) {
      this.nats = new EmbeddedNats(config.natsBin, config.dataDir, log.child({ component: 'nats' }));
      natsUrl = await this.nats.start();
    }
    const nc = (this.nc = await connect({ servers: natsUrl, name: `orva-${config.nodeId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 }));
    const serverVersion = nc.info?.version ?? 'unknown';
    if (!natsServerDurable(serverVersion)) {
      log.warn({ version: serverVersion, need: DURABLE_NATS_SERVER }, 'this nats-server cannot fsync before it acknowledges (sync_interval): an OS crash can lose acknowledged writes');
    }
    const jsm = await jetstreamManager(nc);
    await ensureMetaStream(jsm, config.metaReplicas);
    const js = jetstream(nc);
    const objm = new Objm(nc);
    const bucketOpts = { storage: StorageType.File, replicas: config.metaReplicas };
    const snapshotBucket = await objm.create(BUCKETS.snapshots, bucketOpts);
    const dbPath = join(config.dataDir, 'orva.db');
    await restoreSnapshot(snapshotBucket, jsm, dbPath, log);
    const store = new Store(dbPath);
    const snapshotter = new Snapshotter(snapshotBucket, jsm, store, dbPath, config.snapshotEvery, log.child({ component: 'snapshots' }));

    const artifacts = new Artifacts(
      await objm.create(BUCKETS.artifacts, bucketOpts),
      config.dataDir,
      log.child({ component: 'artifacts' }),
    );
    const applier = (this.applier = new MetaApplier({ js, target: store, log }));
    const meta = new MetaLog(js, applier, config.nodeId);
    const events = new EventBus();
    const keys = new KeyCache(store);
    const channelTokens = new ChannelTokens(store);
    const registry = new FunctionRegistry(store);
    const driver = await BwrapDriver.forNode({ natsUrl, seccompPolicy: config.seccompPolicy, memoryBudgetMb: config.memoryBudgetMb, log: log.child({ component: 'sandbox' }) });
    const secretBox = new SecretBox(loadMasterKey(config.masterKey, config.masterKeyFile));
    const routeTable = new RouteTable(store);
    const executions = new ExecutionLog(join(config.dataDir, 'executions.db'), { retentionDays: config.executionRetentionDays, maxRecords: config.executionMaxRecords, maxLogBytes: config.executionLogsMaxMb * 1024 * 1024 }, log.child({ component: 'executions' }));
    executions.onRecord((row) => events.emit({ type: 'execution', row }));
    const pools = new Pools({
      registry,
      artifacts,
      driver,
      store,
      secretBox,
      defaults: poolDefaults(config),
      queue: { timeoutMs: config.poolQueueTimeoutMs, max: 4096 },
      clock: systemClock,
      log: log.child({ component: 'pools' }),
    });
    pools.onEvent((event) => events.emit({ type: 'pool', event }));
    const builder = new Builder({
      submit: (cmd) => meta.submit(cmd),
      artifacts,
      driver,
      admit: (claim) => pools.admit(claim),
      dataDir: config.dataDir,
      pipArgs: config.pipArgs,
      queueMax: config.buildQueueMax,
      concurrency: config.buildConcurrency,
      keepVersions: config.versionsKeep,
      log,
    });
    const membership = new Membership(nc, config.nodeId, config.metaReplicas, log.child({ component: 'membership' }));
    const clusterExecutions = new ClusterExecutions(executions, nc, membership, log.child({ component: 'executions' }));
    const metrics = new NodeMetrics({ config, clock: systemClock, events, pools, meta, store, registry, log });
    const s: Services = (this.services = {
      config,
      log,
      clock: systemClock,
      store,
      meta,
      keys,
      channelTokens,
      loginLimiter: new LoginLimiter(systemClock),
      registry,
      artifacts,
      driver,
      pools,
      builder,
      executions,
      events,
      secretBox,
      routeTable,
      metrics,
      membership,
      clusterExecutions,
    });
    applier.onApplied(({ envelope, outcome }) => {
      // A command refused at apply changed nothing, so nothing reacts to it.
      if (outcome.ok) this.react(envelope.cmd);
      snapshotter.count();
    });

    const caughtUp = this.waitCaughtUp((await jsm.streams.info(STREAMS.meta)).state.last_seq);
    applier.start();
    await caughtUp;
    await this.ensureBootstrapKey(s);
    await failOwnInterruptedBuilds(s);
    builder.start();

    const http = (this.http = new HttpServer({ host: config.host, port: config.port, bodyLimitBytes: config.bodyLimitBytes, log }));
    const routes = [
      ...systemRoutes(),
      ...authRoutes(s),
      ...keyRoutes(s),
      ...channelRoutes(s),
      ...functionRoutes(s),
      ...deploymentRoutes(s),
      ...tarballDeployRoutes(s),
      ...versionRoutes(s),
      ...secretRoutes(s),
      ...routeRoutes(s),
      ...poolConfigRoutes(s),
      ...executionRoutes(s),
      ...eventRoutes(s),
      ...metricRoutes(s),
      ...runtimeRoutes(s),
      ...syscallRoutes(s),
    ];
    // Last: it documents every route above.
    routes.push(...openApiRoutes(routes, log));
    const call = functionCaller(s);
    const invoke = invokeHandler(s, call);
    const api = apiHandler(routes, s);
    http.handle('/fn/*', invoke.byId);
    http.handle('/mcp', mcpHandler(s, call));
    http.handle('/api/*', api);
    // Everything else is a custom route or nothing.
    http.handle('/*', invoke.byRoute);
    this.port = await http.listen();
    clusterExecutions.serve();
    await membership.join(`${config.host}:${this.port}`);
    this.touchTimer = setInterval(() => void this.flushUses(), config.keyTouchIntervalMs);
    this.touchTimer.unref();
    this.orphanTimer = setInterval(() => void failOrphanedBuilds(s, Date.now()), ORPHAN_SWEEP_MS);
    this.orphanTimer.unref();
    log.info({ port: this.port, host: config.host, nats: config.natsUrl ? 'external' : 'embedded', appliedSeq: store.appliedSeq() }, 'orva node listening');
  }

  /** Every node reacts to an applied command the same way: caches, pools, local files, events. */
  private react(cmd: MetaCommand): void {
    const s = this.services!;
    switch (cmd.type) {
      case 'key.create':
      case 'key.revoke':
        s.keys.reload();
        return;
      case 'channel.create':
      case 'channel.update':
      case 'channel.set-functions':
      case 'channel.rotate':
      case 'channel.delete':
        s.channelTokens.reload();
        return;
      case 'function.create':
        s.registry.refresh(cmd.fn.id);
        return;
      case 'function.update':
        s.registry.refresh(cmd.id);
        // A member's description is its tools' unless overridden; a rename changes no grant but is cheap to include.
        s.channelTokens.reload();
        return;
      case 'function.delete':
        s.registry.refresh(cmd.id);
        // The function left every channel at apply.
        s.channelTokens.reload();
        rmSync(join(s.config.dataDir, 'versions', cmd.id), { recursive: true, force: true });
        return;
      case 'deployment.create':
      case 'deployment.progress':
      case 'deployment.finish':
      case 'deployment.rollback': {
        const dep = s.store.deployment(cmd.id);
        if (!dep) return;
        // A deployment's start and end change its function's status; its end, the active version too.
        if (cmd.type !== 'deployment.progress') s.registry.refresh(dep.function_id);
        if (cmd.type === 'deployment.finish' || cmd.type === 'deployment.rollback') void this.removePruned(dep.function_id);
        s.events.emit({ type: 'deployment', deployment: dep });
        return;
      }
      case 'secret.upsert':
      case 'secret.delete':
      case 'pool.config':
        s.registry.refresh(cmd.function_id);
        return;
      case 'route.create':
      case 'route.delete':
        s.routeTable.reload();
        return;
    }
  }

  /** After a version GC: drop this node's copies, and the artifact once no function uses it. */
  private async removePruned(functionId: string): Promise<void> {
    const s = this.services!;
    for (const hash of s.store.prunedVersions(functionId)) {
      rmSync(s.artifacts.versionDir(functionId, hash), { recursive: true, force: true });
      if (!s.store.versionInUse(hash)) await s.artifacts.remove(hash).catch((err) => this.log.warn({ err, hash }, 'artifact removal failed'));
    }
  }

  /** Serve only once this node has applied everything the stream held at start. */
  private waitCaughtUp(lastSeq: number): Promise<void> {
    return new Promise((done) => {
      if (this.services!.store.appliedSeq() >= lastSeq) return done();
      this.applier!.onApplied(({ seq }) => {
        if (seq >= lastSeq) done();
      });
    });
  }

  /**
   * The first start creates an admin key with all four permissions, written
   * to a 0600 file; only its path and prefix are logged, never the key. It is
   * issued once per cluster (the apply lets exactly one node's key win, and a
   * revoked one is not re-issued). The file is written before the key is
   * published and renamed after, so a crash in between loses nothing: the
   * next start finishes the rename if the key made it into the log.
   */
  private async ensureBootstrapKey(s: Services): Promise<void> {
    const file = join(s.config.dataDir, 'admin.key');
    const pending = `${file}.pending`;
    if (s.store.bootstrapIssued()) {
      if (existsSync(pending)) {
        const issued = s.store.apiKeys().some((k) => k.hash === sha256Hex(readFileSync(pending, 'utf8').trim()));
        if (issued) renameSync(pending, file);
        else rmSync(pending);
      }
      return;
    }
    const key = newApiKey();
    const now = Date.now();
    rmSync(pending, { force: true });
    writeFileSync(pending, `${key.plaintext}\n`, { mode: 0o600 });
    try {
      await s.meta.submit({
        type: 'key.create',
        id: uuidv7(now),
        name: 'bootstrap-admin',
        prefix: key.prefix,
        hash: key.hash,
        permissions: [...PERMISSIONS],
        expires_at: null,
        at: new Date(now).toISOString(),
        bootstrap: true,
      });
    } catch (err) {
      rmSync(pending, { force: true });
      if ((err as { code?: string }).code === 'CONFLICT') return;
      throw err;
    }
    renameSync(pending, file);
    s.log.warn({ file, prefix: key.prefix }, 'bootstrap admin API key created; read it from this file (shown nowhere else)');
  }

  /** `last_used_at` of keys and channels, in one command each per interval: never a META write per call. */
  private async flushUses(): Promise<void> {
    const s = this.services;
    if (!s) return;
    const keyUses = s.keys.drainUses();
    const channelUses = s.channelTokens.drainUses();
    if (keyUses.length > 0) await s.meta.submit({ type: 'key.touch', uses: keyUses }).catch((err) => this.log.warn({ err }, 'key use flush failed'));
    if (channelUses.length > 0) await s.meta.submit({ type: 'channel.touch', uses: channelUses }).catch((err) => this.log.warn({ err }, 'channel use flush failed'));
  }

  async stop(): Promise<void> {
    this.log.info('graceful stop: draining');
    if (this.touchTimer) clearInterval(this.touchTimer);
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    const s = this.services;
    await s?.membership.leave();
    await this.http?.close(DRAIN_GRACE_MS);
    s?.clusterExecutions.stop();
    await s?.pools.stop(DRAIN_GRACE_MS);
    s?.builder.stop();
    // Every killed worker's exit and cgroup removal, so none outlives the node.
    if (s) await Promise.race([s.driver.settle(), new Promise((r) => setTimeout(r, SETTLE_GRACE_MS).unref())]);
    await s?.executions.close();
    await this.flushUses();
    this.applier?.stop();
    await this.nc?.drain().catch(() => {});
    await this.nats?.stop();
    s?.store.close();
    this.log.info('stopped');
  }
}
