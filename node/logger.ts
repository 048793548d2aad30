/**
 * pino JSON logs. Credentials are redacted wherever they might appear in a
 * logged object. Every line written while serving a request carries its
 * `reqId` — also lines from deep inside (the META log, the builder) — through
 * the request scope, without passing loggers around.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

const requestScope = new AsyncLocalStorage<{ reqId: string }>();

/** Run `fn` so that every log line inside it, sync or async, names this request. */
export function inRequest<T>(reqId: string, fn: () => T): T {
  return requestScope.run({ reqId }, fn);
}

/** `destination` defaults to stdout (tests pass a stream to read the lines). */
export function createLogger(level: string, nodeId: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { node: nodeId },
    mixin: () => requestScope.getStore() ?? {},
    redact: {
      paths: ['headers["x-orva-api-key"]', 'headers.cookie', 'headers.authorization', '*.password', '*.token', '*.key', '*.value', 'password', 'token'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
