/** The public face of actors/: the runtime and the actors the node uses. */
export { type Clock, systemClock } from './clock.ts';
export { Actor, MailboxFullError, type ActorOptions, type Reply } from './runtime.ts';
export { MetaApplier, type AppliedEvent, type MetaTarget } from './meta-applier.ts';
export { Builder, type BuildJob, type BuildReservation } from './builder.ts';
export { FunctionSupervisor, type Lease, type PoolEvent, type PoolLimits } from './function-supervisor.ts';
export { Worker, type CallResult } from './worker.ts';
