/**
 * The node's typed event stream: what happened, as data, for SSE, metrics
 * and the UI to subscribe to — never parsed out of log text.
 */
import type { PoolEvent } from '../actors/function-supervisor.ts';
import type { ExecutionRow } from './executions/execution-log.ts';
import type { DeploymentRow } from './store/rows.ts';

export type NodeEvent =
  | { type: 'execution'; row: ExecutionRow }
  /** Every deployment status or phase change, as applied from the META log. */
  | { type: 'deployment'; deployment: DeploymentRow }
  | { type: 'pool'; event: PoolEvent };

export class EventBus {
  private readonly listeners = new Set<(e: NodeEvent) => void>();

  /** Subscribe; returns the unsubscribe function. */
  on(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: NodeEvent): void {
    for (const l of this.listeners) l(e);
  }
}
