/**
 * Frames from the node to a worker (the runtime adapter inside the sandbox).
 * One request is in flight per worker; `id` pairs the answer with its call.
 */

/** The request as the handler sees it: an API-Gateway-like event. */
export interface InvokeEvent {
  method: string;
  /** Same as `method`, under the name AWS Lambda handlers expect. */
  httpMethod: string;
  /** The path below the function's mount point. */
  path: string;
  /** The path as the caller sent it, before routing. */
  rawPath: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  query: Record<string, string>;
  /** UTF-8 text, or base64 when `isBase64Encoded` (binary bodies). */
  body: string;
  isBase64Encoded: boolean;
}

export interface InvokeFrame {
  type: 'invoke';
  /** Per-worker call id, echoed by the answer. */
  id: string;
  /** Set as ORVA_EXECUTION_ID in the handler's environment for this call. */
  executionId: string;
  event: InvokeEvent;
}

export type WorkerInput = InvokeFrame;
