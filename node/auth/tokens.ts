/**
 * Bearer secrets: API keys, channel tokens and session tokens. Only their
 * SHA-256 travels in META commands and sits in SQLite; the plaintext is shown
 * once. SHA-256 (not a slow KDF) is right here because the secrets are 128+
 * random bits: nothing to brute-force from the hash.
 */
import { hash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'orva_';
export const CHANNEL_TOKEN_PREFIX = 'orva_chn_';
const KEY_RE = /^orva_[0-9a-f]{40}$/;
const CHANNEL_TOKEN_RE = /^orva_chn_[0-9a-f]{32}$/;

export function sha256Hex(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** The raw digest, for comparing against a stored hash decoded once (no hex round trip per check). */
export function sha256Bytes(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

export interface NewApiKey {
  plaintext: string;
  /** The public lookup part, shown in listings: `orva_` and 8 hex digits. */
  prefix: string;
  hash: string;
}

export function newApiKey(): NewApiKey {
  const plaintext = `${API_KEY_PREFIX}${randomBytes(20).toString('hex')}`;
  return { plaintext, prefix: apiKeyPrefix(plaintext), hash: sha256Hex(plaintext) };
}

export function isApiKeyShape(value: string): boolean {
  return KEY_RE.test(value);
}

export function apiKeyPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 8);
}

/** A channel's bearer token: `orva_chn_` and 32 hex digits (128 random bits); prefix `orva_chn_` and 8 of them. */
export function newChannelToken(): NewApiKey {
  const plaintext = `${CHANNEL_TOKEN_PREFIX}${randomBytes(16).toString('hex')}`;
  return { plaintext, prefix: channelTokenPrefix(plaintext), hash: sha256Hex(plaintext) };
}

export function isChannelTokenShape(value: string): boolean {
  return CHANNEL_TOKEN_RE.test(value);
}

export function channelTokenPrefix(token: string): string {
  return token.slice(0, CHANNEL_TOKEN_PREFIX.length + 8);
}

export function newSessionToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: sha256Hex(token) };
}
