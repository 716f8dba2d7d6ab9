/**
 * Password hashing for userpass: PBKDF2-HMAC-SHA256 through WebCrypto (no native bcrypt in the core).
 * 600 000 iterations is OWASP's current recommendation for PBKDF2-SHA256; the parameters are stored
 * with each hash so they can be raised later without invalidating existing passwords.
 */
import { toBase64 } from "../encoding.js";

export const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

export interface PasswordHash {
  algorithm: "pbkdf2-sha256";
  iterations: number;
  /** Base64. */
  salt: string;
  /** Base64. */
  hash: string;
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<PasswordHash> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return { algorithm: "pbkdf2-sha256", iterations, salt: toBase64(salt), hash: toBase64(await derive(password, salt, iterations)) };
}

/** Constant-time comparison of a password against a stored hash. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const salt = Uint8Array.from(atob(stored.salt), (c) => c.charCodeAt(0));
  const expected = Uint8Array.from(atob(stored.hash), (c) => c.charCodeAt(0));
  const actual = await derive(password, salt, stored.iterations);
  let difference = actual.length ^ expected.length;
  for (let i = 0; i < actual.length; i++) difference |= actual[i]! ^ (expected[i] ?? 0);
  return difference === 0;
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}
