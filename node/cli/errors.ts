/**
 * The CLI's failures, and the one place that turns them into exit codes
 * (documented in `orva --help` and the README):
 *   0 ok · 1 error (API error, failed build, a call answered >= 400) ·
 *   2 usage · 3 the server could not be reached · 4 authentication or permission.
 */
export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, UNREACHABLE: 3, AUTH: 4 } as const;

/** A failure the user caused or must act on; printed as is. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: number = EXIT.ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, hint, EXIT.USAGE);
  }
}

/** The server answered with the error envelope. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    hint: string | undefined,
    readonly requestId: string | undefined,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message, hint, status === 401 || status === 403 ? EXIT.AUTH : EXIT.ERROR);
    this.name = 'ApiError';
  }
}

export class NetworkError extends CliError {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const why = (cause as { cause?: { code?: string; message?: string } })?.cause;
    super(`could not reach ${url}: ${why?.code ?? why?.message ?? (cause as Error)?.message ?? String(cause)}`, 'check the URL (orva login URL, or ORVA_URL) and that the node is running', EXIT.UNREACHABLE);
    this.name = 'NetworkError';
  }
}

/** Already reported on the terminal (a call's own answer, a build's log tail): exit without another message. */
export class SilentExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** What the user sees on stderr, and the code the process exits with. */
export function describeFailure(err: unknown): { lines: string[]; exitCode: number } {
  if (err instanceof SilentExit) return { lines: [], exitCode: err.exitCode };
  if (err instanceof ApiError) {
    const lines = [`error: ${err.message} (${err.code}, HTTP ${err.status})`];
    if (err.hint) lines.push(`hint: ${err.hint}`);
    if (err.requestId) lines.push(`request id: ${err.requestId}`);
    return { lines, exitCode: err.exitCode };
  }
  if (err instanceof CliError) return { lines: [`error: ${err.message}`, ...(err.hint ? [`hint: ${err.hint}`] : [])], exitCode: err.exitCode };
  return { lines: [`error: ${(err as Error)?.stack ?? String(err)}`], exitCode: EXIT.ERROR };
}
