/**
 * RSASSA-PKCS1-v1_5 over bytes the caller already encoded (a digest's DigestInfo, or Vault's
 * `hash_algorithm=none` input as given): transit's `prehashed` RSA signatures. WebCrypto signs only
 * what it hashes itself, and no audited npm library does raw RSA, so a runtime whose own crypto
 * library does installs it here (adapters/node: node:crypto's, OpenSSL's RSA with PKCS #1 type 1
 * padding); without one, transit refuses prehashed RSA.
 */
export interface RsaDigestSigning {
  /** The signature of `encoded` by the PKCS #8 key; throws when `encoded` is too long for the modulus. */
  sign(pkcs8: Uint8Array, encoded: Uint8Array): Uint8Array;
  /** Whether `signature` is the SPKI key's signature of exactly `encoded`. */
  verify(spki: Uint8Array, encoded: Uint8Array, signature: Uint8Array): boolean;
}

let installed: RsaDigestSigning | null = null;

/** Installed once by a runtime adapter at start-up. */
export function setRsaDigestSigning(signing: RsaDigestSigning | null): void {
  installed = signing;
}

export function rsaDigestSigning(): RsaDigestSigning | null {
  return installed;
}
