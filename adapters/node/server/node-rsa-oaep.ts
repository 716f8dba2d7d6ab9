import { constants, privateDecrypt, publicEncrypt } from "node:crypto";
import type { RsaOaepAnyHash } from "../../../src/sdk/platform-crypto.js";

/** RSA-OAEP over any hash OpenSSL has (its MGF1 follows the OAEP hash), for src/sdk/platform-crypto.ts. */
export const nodeRsaOaep: RsaOaepAnyHash = {
  encrypt(spki, plaintext, hash) {
    const key = { key: Buffer.from(spki), format: "der", type: "spki", padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: opensslName(hash) } as const;
    return new Uint8Array(publicEncrypt(key, plaintext));
  },
  decrypt(pkcs8, ciphertext, hash) {
    const key = { key: Buffer.from(pkcs8), format: "der", type: "pkcs8", padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: opensslName(hash) } as const;
    return new Uint8Array(privateDecrypt(key, ciphertext));
  },
};

/** "SHA-224" → "sha224", "SHA3-256" → "sha3-256". */
export function opensslName(hash: string): string {
  return hash.startsWith("SHA3-") ? hash.toLowerCase() : hash.replace("-", "").toLowerCase();
}
