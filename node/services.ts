/** What the resource handlers share: the node's long-lived parts. */
import type { Logger } from 'pino';
import type { Builder, Clock } from '../actors/index.ts';
import type { Artifacts } from './artifacts.ts';
import type { KeyCache } from './auth/key-cache.ts';
import type { ChannelTokens } from './channels/channel-tokens.ts';
import type { LoginLimiter } from './auth/login-limiter.ts';
import type { Config } from './config.ts';
import type { EventBus } from './events.ts';
import type { ClusterExecutions } from './executions/cluster-executions.ts';
import type { ExecutionLog } from './executions/execution-log.ts';
import type { Membership } from './membership.ts';
import type { MetaLog } from './meta-log.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Pools } from './pools.ts';
import type { FunctionRegistry } from './registry.ts';
import type { RouteTable } from './route-table.ts';
import type { SecretBox } from './secret-box.ts';
import type { SandboxDriver } from './sandbox/driver.ts';
import type { Store } from './store/store.ts';

export interface Services {
  config: Config;
  log: Logger;
  clock: Clock;
  store: Store;
  meta: MetaLog;
  keys: KeyCache;
  /** Channel tokens for /mcp: never accepted at /api/v1/*. */
  channelTokens: ChannelTokens;
  loginLimiter: LoginLimiter;
  registry: FunctionRegistry;
  artifacts: Artifacts;
  /** The sandbox driver the pools and the builder start workers with. */
  driver: SandboxDriver;
  pools: Pools;
  builder: Builder;
  executions: ExecutionLog;
  events: EventBus;
  secretBox: SecretBox;
  metrics: NodeMetrics;
  membership: Membership;
  /** Execution queries across every live member. */
  clusterExecutions: ClusterExecutions;
  routeTable: RouteTable;
}
