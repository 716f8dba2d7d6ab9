import { createCipheriv, createDecipheriv } from "node:crypto";
import type { SyncAesGcm } from "../../../src/sdk/platform-crypto.js";
import { pooledBytes } from "../../../src/sdk/byte-pool.js";

const TAG_BYTES = 16;

/** AES-GCM (128- or 256-bit keys, 16-byte tags) from node:crypto, for src/sdk/platform-crypto.ts. */
export const nodeAesGcm: SyncAesGcm = {
  seal(key, nonce, plaintext, associatedData) {
    const cipher = createCipheriv(algorithm(key), key, nonce, { authTagLength: TAG_BYTES });
    if (associatedData) cipher.setAAD(associatedData);
    const head = cipher.update(plaintext);
    // GCM is a stream cipher: final() has no bytes to add, only the tag to compute.
    cipher.final();
    const out = pooledBytes(head.length + TAG_BYTES);
    out.set(head);
    out.set(cipher.getAuthTag(), head.length);
    return out;
  },
  open(key, nonce, sealed, associatedData) {
    if (sealed.length < TAG_BYTES) return null;
    const decipher = createDecipheriv(algorithm(key), key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    if (associatedData) decipher.setAAD(associatedData);
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      return null;
    }
    // A plain view: a Buffer's slice() shares bytes where Uint8Array's copies them.
    return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length);
  },
};

function algorithm(key: Uint8Array): "aes-128-gcm" | "aes-256-gcm" {
  if (key.length === 16) return "aes-128-gcm";
  if (key.length === 32) return "aes-256-gcm";
  throw new Error(`AES-GCM key of ${key.length} bytes`);
}
