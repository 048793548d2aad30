/**
 * `auth_mode: signed`: webhook-style callers prove they hold the function's
 * ORVA_SIGNING_SECRET instead of an API key. They send
 * `X-Orva-Timestamp: <unix seconds>` and
 * `X-Orva-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`;
 * the timestamp bounds replay to five minutes either way.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { OrvaError } from '../../protocol/errors.ts';
import { SIGNING_SECRET } from '../../protocol/schemas.ts';

const TIMESTAMP_HEADER = 'x-orva-timestamp';
const SIGNATURE_HEADER = 'x-orva-signature';
/** How far a signed call's timestamp may be from this node's clock. */
const MAX_SKEW_S = 300;

const HOW = `send ${TIMESTAMP_HEADER}: <unix seconds> and ${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the function's ${SIGNING_SECRET}>`;

function refused(message: string, functionId: string): OrvaError {
  return new OrvaError('UNAUTHORIZED', message, { function_id: functionId }, { hint: HOW });
}

/**
 * Throws UNAUTHORIZED unless the call carries a fresh, valid signature.
 * `key` is the decrypted secret, or undefined when the function has none.
 */
export function verifySignature(headers: Record<string, string>, body: Buffer, key: Buffer | undefined, nowMs: number, functionId: string): void {
  if (key === undefined) {
    throw new OrvaError('UNAUTHORIZED', `function ${functionId} is signed but has no ${SIGNING_SECRET} secret, so no call can be verified`, { function_id: functionId, reason: 'no_signing_secret' }, {
      hint: `set it via POST /api/v1/functions/${functionId}/secrets with {"key": "${SIGNING_SECRET}", "value": "…"}`,
    });
  }
  const timestamp = headers[TIMESTAMP_HEADER];
  const signature = headers[SIGNATURE_HEADER];
  if (timestamp === undefined || signature === undefined) throw refused('this function takes signed calls only: the signature headers are missing', functionId);
  if (!/^\d{1,12}$/.test(timestamp)) throw refused(`${TIMESTAMP_HEADER} must be unix seconds`, functionId);
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_SKEW_S) throw refused(`${TIMESTAMP_HEADER} is more than ${MAX_SKEW_S / 60} minutes off`, functionId);
  const expected = createHmac('sha256', key).update(`${timestamp}.`).update(body).digest();
  const given = signature.startsWith('sha256=') ? Buffer.from(signature.slice('sha256='.length), 'hex') : Buffer.alloc(0);
  // Constant time over the digest; a wrong length says nothing about the secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused('the signature does not match the body and timestamp', functionId);
}
