/** The one way each resource turns an unknown id into the seed's 404. */
import { OrvaError } from '../../protocol/errors.ts';
import type { FunctionEntry, FunctionRegistry } from '../registry.ts';
import type { DeploymentRow, FunctionRow } from '../store/rows.ts';
import type { Store } from '../store/store.ts';

export function functionNotFound(id: string): OrvaError {
  return new OrvaError('NOT_FOUND', `function ${id} not found`, { function_id: id });
}

/** A function that exists but has never had a successful build. */
export function noDeployedCode(id: string): OrvaError {
  return new OrvaError('NOT_FOUND', `function ${id} has no deployed code`, { function_id: id });
}

export function mustGetFunction(store: Store, id: string): FunctionRow {
  const row = store.function(id);
  if (!row) throw functionNotFound(id);
  return row;
}

/** The in-memory entry, for paths that must not touch SQLite. */
export function mustGetEntry(registry: FunctionRegistry, id: string): FunctionEntry {
  const entry = registry.get(id);
  if (!entry) throw functionNotFound(id);
  return entry;
}

export function mustGetDeployment(store: Store, id: string): DeploymentRow {
  const row = store.deployment(id);
  if (!row) throw new OrvaError('NOT_FOUND', `deployment ${id} not found`, { deployment_id: id });
  return row;
}
