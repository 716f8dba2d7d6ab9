import { createCipheriv, createDecipheriv } from "node:crypto";
import type { SyncAesGcm } from "../../../src/sdk/aes-gcm.js";

const TAG_BYTES = 16;

/** AES-GCM (128- or 256-bit keys, 16-byte tags) from node:crypto, for src/sdk/aes-gcm.ts. */
export const nodeAesGcm: SyncAesGcm = {
  seal(key, nonce, plaintext, associatedData) {
    const cipher = createCipheriv(algorithm(key), key, nonce, { authTagLength: TAG_BYTES });
    if (associatedData) cipher.setAAD(associatedData);
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(head.length + tail.length + TAG_BYTES);
    out.set(head);
    out.set(tail, head.length);
    out.set(tag, head.length + tail.length);
    return out;
  },
  open(key, nonce, sealed, associatedData) {
    if (sealed.length < TAG_BYTES) return null;
    const decipher = createDecipheriv(algorithm(key), key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    if (associatedData) decipher.setAAD(associatedData);
    const head = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      const tail = decipher.final();
      const out = new Uint8Array(head.length + tail.length);
      out.set(head);
      out.set(tail, head.length);
      return out;
    } catch {
      return null;
    }
  },
};

function algorithm(key: Uint8Array): "aes-128-gcm" | "aes-256-gcm" {
  if (key.length === 16) return "aes-128-gcm";
  if (key.length === 32) return "aes-256-gcm";
  throw new Error(`AES-GCM key of ${key.length} bytes`);
}
