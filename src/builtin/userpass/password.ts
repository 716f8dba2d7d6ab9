/**
 * Password hashing for userpass: PBKDF2-HMAC-SHA256 through WebCrypto (no native bcrypt in the core).
 * 600 000 iterations is OWASP's current recommendation for PBKDF2-SHA256; the parameters are stored
 * with each hash so they can be raised later without invalidating existing passwords.
 */
import { fromBase64, toBase64 } from "../../sdk/encoding.js";
import { LogicalError } from "../../sdk/types.js";

export const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * PBKDF2 runs on the thread pool that every WebCrypto call shares, barrier decryption included
 * (Node's libuv pool has 4 threads by default). Allowing at most two derivations at once leaves the
 * rest of the pool to other requests, so a login flood slows logins, not reads or health checks.
 */
export const MAX_CONCURRENT_DERIVATIONS = 2;
/**
 * Derivations queued beyond this are refused with a 429 at once: a deeper queue would only make
 * every login wait seconds (each derivation takes ~200 ms) while holding the client's connection.
 */
export const MAX_QUEUED_DERIVATIONS = 64;

/** A counting semaphore with a bounded FIFO queue. */
class DerivationPermits {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= MAX_CONCURRENT_DERIVATIONS) {
      if (this.#waiting.length >= MAX_QUEUED_DERIVATIONS) throw new LogicalError(429, "too many logins in progress; retry later");
      // The permit is handed over by the task that finishes, so #running stays counted.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

const permits = new DerivationPermits();

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
  const salt = fromBase64(stored.salt);
  const expected = fromBase64(stored.hash);
  const actual = await derive(password, salt, stored.iterations);
  let difference = actual.length ^ expected.length;
  for (let i = 0; i < actual.length; i++) difference |= actual[i]! ^ (expected[i] ?? 0);
  return difference === 0;
}

function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  return permits.run(() => deriveNow(password, salt, iterations));
}

async function deriveNow(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}
