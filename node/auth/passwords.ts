/**
 * Passwords: scrypt (memory-hard, in node:crypto) with a per-user salt; the
 * hash string carries its parameters so they can be raised later.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

/** N=2^15, r=8: ~32 MiB and ~50-100 ms per hash on a small core — slow for guessing, fine for login. */
const PARAMS = { N: 32768, r: 8, p: 1 };
const KEY_LEN = 32;

function scrypt(password: string, salt: Buffer, p: typeof PARAMS): Promise<Buffer> {
  return new Promise((resolveKey, reject) =>
    scryptCb(password, salt, KEY_LEN, { ...p, maxmem: 128 * p.N * p.r * 2 }, (err, key) => (err ? reject(err) : resolveKey(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * The minimum strength: at least 12 characters from at least three of
 * lower case, upper case, digits and symbols, and still 12 characters once
 * the username is taken out of it — so `admin` / `AdminPass123!Secure` (the
 * seed's own example) passes while `admin` / `admin1234567!` does not.
 * Returns the reason it is too weak, or null.
 */
export function passwordWeakness(password: string, username: string): string | null {
  if (password.length < 12) return 'password must be at least 12 characters';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 3) return 'password must mix at least three of: lower case, upper case, digits, symbols';
  if (username.length > 0 && password.toLowerCase().split(username.toLowerCase()).join('').length < 12) {
    return 'password must be at least 12 characters besides the username';
  }
  return null;
}
