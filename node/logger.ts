/** pino JSON logs; credentials are redacted wherever they might appear in a logged object. */
import pino, { type Logger } from 'pino';

export function createLogger(level: string, nodeId: string): Logger {
  return pino({
    level,
    base: { node: nodeId },
    redact: {
      paths: ['headers["x-orva-api-key"]', 'headers.cookie', 'headers.authorization', '*.password', '*.token', '*.key', '*.value', 'password', 'token'],
      censor: '[redacted]',
    },
  });
}
