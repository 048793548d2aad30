/**
 * pino JSON logs; credentials are redacted wherever they might appear in a
 * logged object. Request-scoped lines come from the per-request child logger
 * (`ctx.log`, bound to `reqId`); deeper layers do not log a request's
 * failures themselves but attach their cause to the error, which the API
 * layer logs once with the request id. (No AsyncLocalStorage: in Node 20 it
 * hooks every promise in the process, the invoke path's included.)
 */
import pino, { type Logger } from 'pino';

/** `destination` defaults to stdout (tests pass a stream to read the lines). */
export function createLogger(level: string, nodeId: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { node: nodeId },
    redact: {
      paths: ['headers["x-orva-api-key"]', 'headers.cookie', 'headers.authorization', '*.password', '*.token', '*.key', '*.value', 'password', 'token'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
