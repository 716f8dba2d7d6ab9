/**
 * BYOK's wire format, which Vault's CLI writes for `keys/:name/import` and `byok-export/` writes for
 * another mount: a fresh AES-256 key, RSA-OAEP-encrypted to an RSA public key, followed by the key
 * material wrapped under that AES key with AES-KWP (RFC 5649), all in base64.
 */
import { aeskwp } from "@noble/ciphers/aes.js";
import { toBase64 } from "../../sdk/encoding.js";
import { platformCrypto } from "../../sdk/platform-crypto.js";
import { LogicalError } from "../../sdk/types.js";
import { concat } from "./material.js";
import { randomBytes } from "./primitives.js";

/** OAEP's hash, by Vault's names, as WebCrypto names it. */
const OAEP_HASHES: Record<string, string> = { SHA1: "SHA-1", SHA224: "SHA-224", SHA256: "SHA-256", SHA384: "SHA-384", SHA512: "SHA-512" };
/** What WebCrypto's RSA-OAEP lacks, left to the runtime's own library (src/sdk/platform-crypto.ts). */
const PLATFORM_ONLY = "SHA-224";
const EPHEMERAL_KEY_BYTES = 32;

/** WebCrypto's name for Vault's `hash_function` (or byok-export's `hash`), refused when no one here has it. */
export function oaepHash(vaultName: string): string {
  const hash = OAEP_HASHES[vaultName.toUpperCase()];
  if (!hash) throw new LogicalError(400, `unknown hash function: ${vaultName}`);
  if (hash === PLATFORM_ONLY && !platformCrypto().rsaOaep) {
    throw new LogicalError(400, "hash function SHA224 is not supported by this runtime; use SHA1, SHA256, SHA384 or SHA512");
  }
  return hash;
}

/** `material` in the wire format, for the holder of the private half of `spki` (an RSA key). */
export async function wrapKeyMaterial(spki: Uint8Array, material: Uint8Array, hash: string): Promise<string> {
  const aesKey = randomBytes(EPHEMERAL_KEY_BYTES);
  try {
    let wrappedAesKey: Uint8Array;
    if (hash === PLATFORM_ONLY) {
      wrappedAesKey = platformCrypto().rsaOaep!.encrypt(spki, aesKey, hash);
    } else {
      const publicKey = await crypto.subtle.importKey("spki", spki as BufferSource, { name: "RSA-OAEP", hash }, false, ["encrypt"]);
      wrappedAesKey = new Uint8Array(await crypto.subtle.encrypt({ name: "RSA-OAEP" }, publicKey, aesKey as BufferSource));
    }
    return toBase64(concat(wrappedAesKey, aeskwp(aesKey).encrypt(material)));
  } finally {
    aesKey.fill(0);
  }
}

/**
 * The key material in `ciphertext`, whose first `wrappedKeyBytes` are the AES key encrypted to the
 * PKCS #8 RSA key. A failure is the sender's (a wrong key, hash or layout) and says which step failed.
 */
export async function unwrapKeyMaterial(pkcs8: Uint8Array, ciphertext: Uint8Array, wrappedKeyBytes: number, hash: string): Promise<Uint8Array> {
  const wrappedAesKey = ciphertext.subarray(0, wrappedKeyBytes);
  let aesKey: Uint8Array;
  try {
    if (hash === PLATFORM_ONLY) {
      aesKey = platformCrypto().rsaOaep!.decrypt(pkcs8, wrappedAesKey, hash);
    } else {
      const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8 as BufferSource, { name: "RSA-OAEP", hash }, false, ["decrypt"]);
      aesKey = new Uint8Array(await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, wrappedAesKey as BufferSource));
    }
  } catch {
    throw new LogicalError(400, "crypto/rsa: decryption error");
  }
  try {
    if (aesKey.length !== EPHEMERAL_KEY_BYTES) throw new LogicalError(400, "expected ephemeral AES key to be 256-bit");
    try {
      return aeskwp(aesKey).decrypt(ciphertext.subarray(wrappedKeyBytes));
    } catch {
      throw new LogicalError(400, "kwp: failed to unwrap key");
    }
  } finally {
    aesKey.fill(0);
  }
}
