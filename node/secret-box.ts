/**
 * AES-256-GCM for secret values and provider keys. The master key is one
 * 32-byte key per cluster: from ORVA_MASTER_KEY, or a 0600 file (created on a
 * single node's first start). Each ciphertext is bound to its slot (function
 * and name) as associated data, so a ciphertext copied to another slot fails
 * to decrypt. Format: `v1:` + base64(iv ‖ tag ‖ ciphertext).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const IV_BYTES = 12;
const TAG_BYTES = 16;

function parseKey(text: string, origin: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new Error(`${origin} must hold 32 bytes as 64 hex digits or base64`);
  return key;
}

/** The cluster's master key: the env value, else the file (created 0600 when absent). */
export function loadMasterKey(envValue: string | null, file: string): Buffer {
  if (envValue) return parseKey(envValue, 'ORVA_MASTER_KEY');
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  }
  return parseKey(readFileSync(file, 'utf8'), file);
}

export class SecretBox {
  constructor(private readonly key: Buffer) {}

  encrypt(slot: string, plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(slot));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
  }

  /** Throws when the key is wrong or the value was tampered with. */
  decrypt(slot: string, sealed: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('unknown secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(slot));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}

/** The associated data of a function secret. */
export function secretSlot(functionId: string, key: string): string {
  return `secret:${functionId}:${key}`;
}
