import { constants, privateEncrypt, publicDecrypt, sign, verify } from "node:crypto";
import type { RsaDigestSigning, RsaSigningAnyHash } from "../../../src/sdk/platform-crypto.js";
import { opensslName } from "./node-rsa-oaep.js";

/** RSASSA-PKCS1-v1_5 of pre-encoded bytes with OpenSSL's RSA, for src/sdk/platform-crypto.ts. */
export const nodeRsaDigestSigning: RsaDigestSigning = {
  sign(pkcs8, encoded) {
    const key = { key: Buffer.from(pkcs8), format: "der", type: "pkcs8", padding: constants.RSA_PKCS1_PADDING } as const;
    return new Uint8Array(privateEncrypt(key, encoded));
  },
  verify(spki, encoded, signature) {
    const key = { key: Buffer.from(spki), format: "der", type: "spki", padding: constants.RSA_PKCS1_PADDING } as const;
    let recovered: Buffer;
    try {
      recovered = publicDecrypt(key, signature);
    } catch {
      // Not a PKCS #1 type 1 block under this key: a wrong key, length or signature.
      return false;
    }
    return Buffer.from(encoded).equals(recovered);
  },
};

/** RSA-PSS and RSASSA-PKCS1-v1_5 with any hash OpenSSL has, for src/sdk/platform-crypto.ts. */
export const nodeRsaSigning: RsaSigningAnyHash = {
  sign(pkcs8, hash, message, saltLength) {
    return new Uint8Array(sign(opensslName(hash), message, { key: Buffer.from(pkcs8), format: "der", type: "pkcs8", ...padding(saltLength) }));
  },
  verify(spki, hash, message, signature, saltLength) {
    return verify(opensslName(hash), message, { key: Buffer.from(spki), format: "der", type: "spki", ...padding(saltLength) }, signature);
  },
};

function padding(saltLength: number | undefined) {
  return saltLength === undefined ? { padding: constants.RSA_PKCS1_PADDING } : { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
}
