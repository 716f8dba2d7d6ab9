/**
 * The symmetric primitives transit uses, from WebCrypto where it has them (AES-GCM, HKDF, SHA-1/2
 * and HMAC over them) and from the audited @noble libraries where it does not (ChaCha20-Poly1305,
 * SHA-224, SHA-3).
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha224, sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { sha3_224, sha3_256, sha3_384, sha3_512 } from "@noble/hashes/sha3.js";
import { platformCrypto } from "../../sdk/platform-crypto.js";
import { pooledBytes } from "../../sdk/byte-pool.js";
import { LogicalError } from "../../sdk/types.js";

export const HASH_ALGORITHMS = ["sha1", "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256", "sha3-384", "sha3-512"] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

const NOBLE_HASHES = {
  sha1,
  "sha2-224": sha224,
  "sha2-256": sha256,
  "sha2-384": sha384,
  "sha2-512": sha512,
  "sha3-224": sha3_224,
  "sha3-256": sha3_256,
  "sha3-384": sha3_384,
  "sha3-512": sha3_512,
} as const;

/** Each hash named as WebCrypto names hashes, also for those it lacks (the runtime hooks take these names). */
export const HASH_NAMES: Record<HashAlgorithm, string> = {
  sha1: "SHA-1",
  "sha2-224": "SHA-224",
  "sha2-256": "SHA-256",
  "sha2-384": "SHA-384",
  "sha2-512": "SHA-512",
  "sha3-224": "SHA3-224",
  "sha3-256": "SHA3-256",
  "sha3-384": "SHA3-384",
  "sha3-512": "SHA3-512",
};

/** WebCrypto's name for the hashes it has. */
export const WEBCRYPTO_HASH: Partial<Record<HashAlgorithm, string>> = Object.fromEntries(
  (["sha1", "sha2-256", "sha2-384", "sha2-512"] as const).map((hash) => [hash, HASH_NAMES[hash]]),
);

export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

export function digestLength(algorithm: HashAlgorithm): number {
  return NOBLE_HASHES[algorithm].outputLen;
}

export async function digest(algorithm: HashAlgorithm, data: Uint8Array): Promise<Uint8Array> {
  const webName = WEBCRYPTO_HASH[algorithm];
  if (webName) return new Uint8Array(await crypto.subtle.digest(webName, data as BufferSource));
  return NOBLE_HASHES[algorithm](data);
}

export async function hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const webName = WEBCRYPTO_HASH[algorithm];
  if (!webName) return nobleHmac(NOBLE_HASHES[algorithm], key, data);
  const cryptoKey = await crypto.subtle.importKey("raw", key as BufferSource, { name: "HMAC", hash: webName }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data as BufferSource));
}

/** Equality that takes the same time wherever the inputs differ (MACs compared to a client's). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/** HKDF-SHA256 with no salt, `context` as info: Vault's key derivation (KDF "hkdf_sha256"). */
export async function deriveKey(key: Uint8Array, context: Uint8Array, length: number): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", key as BufferSource, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: context as BufferSource }, base, length * 8);
  return new Uint8Array(bits);
}

export const NONCE_BYTES = 12;

export type AeadType = "aes128-gcm96" | "aes256-gcm96" | "chacha20-poly1305";

/**
 * An AEAD key ready for use. AES needs only its bytes where the platform does AES-GCM itself; for
 * WebCrypto it is imported on first use and kept with the key.
 */
export interface AeadKey {
  type: AeadType;
  raw: Uint8Array;
  webCrypto?: Promise<CryptoKey>;
}

export function aeadKey(type: AeadType, raw: Uint8Array): AeadKey {
  return { type, raw };
}

function webCryptoKey(key: AeadKey): Promise<CryptoKey> {
  return (key.webCrypto ??= crypto.subtle.importKey("raw", key.raw as BufferSource, "AES-GCM", false, ["encrypt", "decrypt"]));
}

/** Go's AEAD error text, which Vault returns as is. */
const AUTHENTICATION_FAILED = "cipher: message authentication failed";

/** nonce ‖ ciphertext ‖ tag, Vault's layout for its AEAD key types. */
export async function seal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array): Promise<Uint8Array> {
  let sealed: Uint8Array;
  if (key.type === "chacha20-poly1305") {
    sealed = chacha20poly1305(key.raw, nonce, associatedData).encrypt(plaintext);
  } else {
    const sync = platformCrypto().aesGcm;
    if (sync) {
      sealed = sync.seal(key.raw, nonce, plaintext, associatedData);
    } else {
      const params: AesGcmParams = {
        name: "AES-GCM",
        iv: nonce as BufferSource,
        ...(associatedData ? { additionalData: associatedData as BufferSource } : {}),
      };
      sealed = new Uint8Array(await crypto.subtle.encrypt(params, await webCryptoKey(key), plaintext as BufferSource));
    }
  }
  const out = pooledBytes(nonce.length + sealed.length);
  out.set(nonce);
  out.set(sealed, nonce.length);
  return out;
}

/** Opens nonce ‖ ciphertext ‖ tag; a wrong key, context, associated data or a tampered byte all fail alike. */
export async function open(key: AeadKey, sealed: Uint8Array, associatedData?: Uint8Array): Promise<Uint8Array> {
  if (sealed.length < NONCE_BYTES) throw new LogicalError(400, "invalid ciphertext length");
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const body = sealed.subarray(NONCE_BYTES);
  const sync = key.type !== "chacha20-poly1305" && platformCrypto().aesGcm;
  if (sync) {
    const opened = sync.open(key.raw, nonce, body, associatedData);
    if (!opened) throw new LogicalError(400, AUTHENTICATION_FAILED);
    return opened;
  }
  try {
    if (key.type === "chacha20-poly1305") return chacha20poly1305(key.raw, nonce, associatedData).decrypt(body);
    const params: AesGcmParams = {
      name: "AES-GCM",
      iv: nonce as BufferSource,
      ...(associatedData ? { additionalData: associatedData as BufferSource } : {}),
    };
    return new Uint8Array(await crypto.subtle.decrypt(params, await webCryptoKey(key), body as BufferSource));
  } catch {
    throw new LogicalError(400, AUTHENTICATION_FAILED);
  }
}

/**
 * AEAD nonces are cut from random bytes drawn a few kilobytes at a time, each handed out once: a
 * getRandomValues call per nonce cost as much as the AES itself on a 1 KB item. Nonces are
 * public (every ciphertext starts with its own), so holding some in advance discloses nothing.
 */
const NONCE_POOL_BYTES = NONCE_BYTES * 341;
let noncePool: Uint8Array = new Uint8Array(0);
let noncePoolUsed = 0;

export function randomNonce(): Uint8Array {
  if (noncePoolUsed === noncePool.length) {
    noncePool = randomBytes(NONCE_POOL_BYTES);
    noncePoolUsed = 0;
  }
  return noncePool.subarray(noncePoolUsed, (noncePoolUsed += NONCE_BYTES));
}

export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  // getRandomValues fills at most 65 536 bytes per call.
  for (let offset = 0; offset < length; offset += 65536) crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65536)));
  return out;
}
