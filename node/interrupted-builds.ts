/**
 * Builds that will never finish because their node is gone. A node fails its
 * own unfinished builds when it starts again; a node that never comes back
 * (crashed for good, or cut off from the cluster) would leave them `queued`
 * or `building` forever, so every node also fails, now and then, the builds
 * of nodes that have left the membership. When several nodes find the same
 * build, the first finish wins and the others are refused at apply.
 */
import { OrvaError } from '../protocol/errors.ts';
import type { DeploymentRow } from './store/rows.ts';
import type { Services } from './services.ts';

type Deps = Pick<Services, 'store' | 'meta' | 'membership' | 'config' | 'log'>;

/**
 * How long a build's node must have been out of the membership (whose
 * entries expire 10 s after a node's last heartbeat) and the build untouched,
 * before the build counts as orphaned.
 */
const ORPHAN_AFTER_MS = 15_000;

function fail(s: Deps, dep: DeploymentRow, error: string): Promise<void> {
  return s.meta.submit({
    type: 'deployment.finish',
    id: dep.id,
    status: 'failed',
    code_hash: null,
    error,
    logs: dep.logs,
    keep_versions: s.config.versionsKeep,
    at: new Date().toISOString(),
  });
}

/** At start: what this node had queued or running when it stopped will never finish. */
export async function failOwnInterruptedBuilds(s: Deps): Promise<void> {
  for (const dep of s.store.unfinishedDeployments()) {
    if (dep.node === s.config.nodeId) await fail(s, dep, 'the build was interrupted by a node restart; deploy again');
  }
}

/** Periodically: the unfinished builds of nodes no longer in the membership. */
export async function failOrphanedBuilds(s: Deps, nowMs: number): Promise<void> {
  const live = new Set(s.membership.members().map((m) => m.node));
  // Until this node sees itself, its view of the membership is not current.
  if (!live.has(s.config.nodeId)) return;
  for (const dep of s.store.unfinishedDeployments()) {
    if (live.has(dep.node) || nowMs - Date.parse(dep.updated_at) < ORPHAN_AFTER_MS) continue;
    try {
      await fail(s, dep, `the build's node ${dep.node} left the cluster before the build finished; deploy again`);
      s.log.warn({ deployment: dep.id, node: dep.node }, 'failed a build whose node left the cluster');
    } catch (err) {
      // Another node recorded it first: nothing to do.
      if (!(err instanceof OrvaError && err.code === 'NOT_FOUND')) s.log.warn({ err, deployment: dep.id }, 'could not fail an orphaned build');
    }
  }
}
