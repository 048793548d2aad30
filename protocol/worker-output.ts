/**
 * Frames from a worker to the node. The worker runs user code, so every
 * decoded frame goes through `parseWorkerOutput` before anything reads it.
 */

/** Sent once, after the handler module loaded. */
export interface ReadyFrame {
  type: 'ready';
}

/** Loading the handler failed; the worker exits non-zero after sending it. */
export interface LoadErrorFrame {
  type: 'load-error';
  name: string;
  message: string;
  stack: string;
}

/** The handler returned; `logs` is what it printed during this call (capped at 256 KiB). */
export interface OkFrame {
  type: 'ok';
  id: string;
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  logs: string;
}

/** The handler threw or rejected (a function fault); the worker stays usable. */
export interface ErrorFrame {
  type: 'error';
  id: string;
  name: string;
  message: string;
  stack: string;
  logs: string;
}

export type WorkerOutput = ReadyFrame | LoadErrorFrame | OkFrame | ErrorFrame;

type Fields = Record<string, unknown>;

const isStr = (v: unknown): v is string => typeof v === 'string';

function isStringRecord(v: unknown): v is Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const k in v) if (!isStr((v as Fields)[k])) return false;
  return true;
}

const hasFailureFields = (f: Fields): boolean => isStr(f.name) && isStr(f.message) && isStr(f.stack);

/**
 * The decoded value as a `WorkerOutput`, or null when its shape is wrong in
 * any way — the caller treats null as a protocol violation by the worker.
 */
export function parseWorkerOutput(value: unknown): WorkerOutput | null {
  if (typeof value !== 'object' || value === null) return null;
  const f = value as Fields;
  switch (f.type) {
    case 'ready':
      return { type: 'ready' };
    case 'load-error':
      return hasFailureFields(f) ? (f as unknown as LoadErrorFrame) : null;
    case 'ok':
      return isStr(f.id) &&
        Number.isInteger(f.status) && (f.status as number) >= 100 && (f.status as number) <= 599 &&
        isStringRecord(f.headers) && f.body instanceof Uint8Array && isStr(f.logs)
        ? (f as unknown as OkFrame)
        : null;
    case 'error':
      return isStr(f.id) && hasFailureFields(f) && isStr(f.logs) ? (f as unknown as ErrorFrame) : null;
    default:
      return null;
  }
}
