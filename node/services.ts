/** What the resource handlers share: the node's long-lived parts. */
import type { Logger } from 'pino';
import type { Clock } from '../actors/clock.ts';
import type { KeyCache } from './auth/key-cache.ts';
import type { LoginLimiter } from './auth/login-limiter.ts';
import type { Config } from './config.ts';
import type { MetaLog } from './meta-log.ts';
import type { Store } from './store/store.ts';

export interface Services {
  config: Config;
  log: Logger;
  clock: Clock;
  store: Store;
  meta: MetaLog;
  keys: KeyCache;
  loginLimiter: LoginLimiter;
}
