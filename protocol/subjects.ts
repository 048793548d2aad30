/**
 * Every NATS subject, stream and bucket name is built here and only here.
 * Tokens that come from data (node ids) are validated so that a hostile or
 * malformed value can never widen a subscription (`*`, `>`) or split a token.
 */
export const STREAMS = {
  meta: 'ORVA_META',
} as const;

export const BUCKETS = {
  artifacts: 'ORVA_ARTIFACTS',
  members: 'ORVA_MEMBERS',
  snapshots: 'ORVA_SNAPSHOTS',
} as const;

const TOKEN_RE = /^[A-Za-z0-9_-]{1,64}$/;

function token(value: string, what: string): string {
  if (!TOKEN_RE.test(value)) throw new Error(`invalid ${what} for a NATS subject: ${JSON.stringify(value)}`);
  return value;
}

export const subjects = {
  /** Everything the META stream captures. */
  metaAll: (): string => 'orva.meta.>',
  /** Where commands are published; one subject keeps a single total order. */
  metaCommands: (): string => 'orva.meta.cmd',
  /** Node-to-node invoke requests addressed to one node. */
  invoke: (nodeId: string): string => `orva.invoke.${token(nodeId, 'node id')}`,
  /** Cluster-wide execution queries, answered by every node. */
  executionsQuery: (): string => 'orva.executions.query',
};

export function isValidNodeId(value: string): boolean {
  return TOKEN_RE.test(value);
}
