/**
 * Encryption and decryption with a loaded key, in Vault's ciphertext format:
 * `vault:v<version>:` + base64(nonce ‖ ciphertext ‖ tag) for the AEAD types, + base64(RSA-OAEP
 * SHA-256 ciphertext) for RSA keys.
 */
import { fromBase64 } from "../../sdk/encoding.js";
import { LogicalError } from "../../sdk/types.js";
import { decodeBase64, encodeBase64, splitVersioned } from "./inputs.js";
import type { LoadedKey } from "./keyring.js";
import { hasPrivateKey, pemBody } from "./material.js";
import { type AeadKey, type AeadType, aeadKey, deriveKey, hmac, NONCE_BYTES, open, randomNonce, seal } from "./primitives.js";

export const TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)";
const MISSING_CONTEXT =
  "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key";
const CONVERGENT_HMAC_BYTES = 32;

/** The version an encryption-like operation (encrypt, sign, datakey) uses for a requested one (0 = latest). */
export function encryptionVersion(key: LoadedKey, requested: number, operation: "encryption" | "signing"): number {
  const { latest_version: latest, min_encryption_version: minimum } = key.policy;
  if (requested === 0) return latest;
  if (requested < 0) throw new LogicalError(400, `requested version for ${operation} is negative`);
  if (requested > latest) throw new LogicalError(400, `requested version for ${operation} is higher than the latest key version`);
  if (minimum > 0 && requested < minimum) throw new LogicalError(400, `requested version for ${operation} is less than the minimum encryption key version`);
  return requested;
}

/** Checks a version read from a ciphertext or signature against the key's window. */
export function decryptionVersion(key: LoadedKey, version: number, what: string): number {
  if (version > key.policy.latest_version) throw new LogicalError(400, `invalid ${what}: version is too new`);
  if (key.policy.min_decryption_version > 0 && version < key.policy.min_decryption_version) throw new LogicalError(400, TOO_OLD);
  // Vault's first ciphertexts counted from 0.
  return version === 0 ? 1 : version;
}

export async function encrypt(
  key: LoadedKey,
  requestedVersion: number,
  context: Uint8Array,
  plaintext: Uint8Array,
  associatedData?: Uint8Array,
): Promise<{ ciphertext: string; version: number }> {
  if (key.info.kind !== "aead" && key.info.kind !== "rsa") throw new LogicalError(400, `message encryption not supported for key type ${key.policy.type}`);
  const version = encryptionVersion(key, requestedVersion, "encryption");
  let sealed: Uint8Array;
  if (key.info.kind === "rsa") {
    const publicKey = await key.prepared(`oaep-public/${version}`, () => importRsa(key, version, "spki", "encrypt"));
    try {
      sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "RSA-OAEP" }, publicKey, plaintext as BufferSource));
    } catch {
      throw new LogicalError(400, "failed to RSA encrypt the plaintext: crypto/rsa: message too long for RSA key size");
    }
  } else {
    const convergent = key.policy.convergent_encryption;
    const { aead, hmacKey } = key.policy.derived
      ? await derivedAead(key, version, context, convergent ? CONVERGENT_HMAC_BYTES : 0)
      : { aead: storedAead(key, version) };
    // Convergent: the same plaintext under the same context gives the same nonce, hence the same ciphertext.
    const nonce = hmacKey ? (await hmac("sha2-256", hmacKey, plaintext)).subarray(0, NONCE_BYTES) : randomNonce();
    sealed = await seal(aead, nonce, plaintext, associatedData);
  }
  return { ciphertext: encodeBase64(sealed, `vault:v${version}:`), version };
}

export async function decrypt(key: LoadedKey, context: Uint8Array, ciphertext: string, associatedData?: Uint8Array): Promise<Uint8Array> {
  if (key.info.kind !== "aead" && key.info.kind !== "rsa") throw new LogicalError(400, `message decryption not supported for key type ${key.policy.type}`);
  const split = splitVersioned(ciphertext, "ciphertext");
  const version = decryptionVersion(key, split.version, "ciphertext");
  const sealed = decodeBase64(split.payload);
  if (typeof sealed === "string") throw new LogicalError(400, "invalid ciphertext: could not decode base64");
  if (key.info.kind === "rsa") {
    if (!hasPrivateKey(key.version(version))) throw new LogicalError(400, "cannot decrypt ciphertext, key version does not have a private counterpart");
    const privateKey = await key.prepared(`oaep-private/${version}`, () => importRsa(key, version, "pkcs8", "decrypt"));
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, sealed as BufferSource));
    } catch {
      throw new LogicalError(400, "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error");
    }
  }
  const aead = key.policy.derived ? (await derivedAead(key, version, context, 0)).aead : storedAead(key, version);
  return open(aead, sealed, associatedData);
}

/** A derived key's AEAD key for `context`, and the convergent HMAC key when asked for. */
async function derivedAead(key: LoadedKey, version: number, context: Uint8Array, hmacBytes: number): Promise<{ aead: AeadKey; hmacKey?: Uint8Array }> {
  if (context.length === 0) throw new LogicalError(400, MISSING_CONTEXT);
  const keyBytes = key.info.keyBytes!;
  // HKDF output is a stream: the first keyBytes are the same whether or not the HMAC key follows.
  const derived = await deriveKey(fromBase64(key.version(version).key!), context, keyBytes + hmacBytes);
  return { aead: aeadKey(key.policy.type as AeadType, derived.subarray(0, keyBytes)), ...(hmacBytes > 0 ? { hmacKey: derived.subarray(keyBytes) } : {}) };
}

/** A key version used as stored (not derived), decoded once per loading of the key. */
function storedAead(key: LoadedKey, version: number): AeadKey {
  return key.kept(`aead/${version}`, () => aeadKey(key.policy.type as AeadType, fromBase64(key.version(version).key!)));
}

function importRsa(key: LoadedKey, version: number, format: "spki" | "pkcs8", usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  const entry = key.version(version);
  const der = format === "spki" ? pemBody(entry.public_key!) : fromBase64(entry.private_key!);
  return crypto.subtle.importKey(format, der as BufferSource, { name: "RSA-OAEP", hash: "SHA-256" }, false, [usage]);
}

/** The derivation context check Vault makes before touching the key: all items have one, or none does. */
export function requireConsistentContext(contexts: string[]): void {
  const first = contexts[0] !== "";
  if (contexts.some((context) => (context !== "") !== first)) throw new LogicalError(400, "context should be set either in all the request blocks or in none");
}
