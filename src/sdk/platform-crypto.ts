/**
 * Crypto that WebCrypto cannot give transit, from the runtime's own platform library, installed by
 * its adapter at start-up (adapters/node: node:crypto's, the OpenSSL its WebCrypto uses). Without
 * them, transit runs AES-GCM through WebCrypto and refuses RSA over a client's digest, RSA with
 * SHA-224 or SHA-3, and BYOK's RSA-OAEP with SHA-224.
 */
export interface PlatformCrypto {
  /**
   * AES-GCM with a raw key, synchronously. WebCrypto serves AES-GCM everywhere, but Node runs each
   * WebCrypto call as a job on libuv's thread pool, and that hand-off costs several times the
   * cipher itself on a kilobyte.
   */
  aesGcm?: SyncAesGcm;
  /**
   * RSASSA-PKCS1-v1_5 over bytes the caller already encoded (a digest's DigestInfo, or Vault's
   * `hash_algorithm=none` input as given): WebCrypto signs only what it hashes itself, and no
   * audited npm library does raw RSA.
   */
  rsaDigest?: RsaDigestSigning;
  /**
   * RSA-OAEP with a hash WebCrypto's RSA-OAEP lacks: SHA-224, which Vault's BYOK import and
   * byok-export accept for the ephemeral AES key.
   */
  rsaOaep?: RsaOaepAnyHash;
  /**
   * RSA signatures (PSS or PKCS #1 v1.5) of a message with a hash WebCrypto's RSA lacks: SHA-224
   * and SHA-3, which Vault's `hash_algorithm` offers for RSA keys.
   */
  rsaSigning?: RsaSigningAnyHash;
}

export interface SyncAesGcm {
  /** ciphertext ‖ 16-byte tag. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array): Uint8Array;
  /** The plaintext of ciphertext ‖ tag, or null when it does not authenticate. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, associatedData?: Uint8Array): Uint8Array | null;
}

export interface RsaDigestSigning {
  /** The signature of `encoded` by the PKCS #8 key; throws when `encoded` is too long for the modulus. */
  sign(pkcs8: Uint8Array, encoded: Uint8Array): Uint8Array;
  /** Whether `signature` is the SPKI key's signature of exactly `encoded`. */
  verify(spki: Uint8Array, encoded: Uint8Array, signature: Uint8Array): boolean;
}

/** `hash` is named as WebCrypto names hashes ("SHA-224"); MGF1 uses the same hash and the label is empty, as Go's OAEP. */
export interface RsaOaepAnyHash {
  /** `plaintext` encrypted to the SPKI key. */
  encrypt(spki: Uint8Array, plaintext: Uint8Array, hash: string): Uint8Array;
  /** The plaintext of `ciphertext` under the PKCS #8 key; throws when it does not decrypt. */
  decrypt(pkcs8: Uint8Array, ciphertext: Uint8Array, hash: string): Uint8Array;
}

/** `hash` is named as WebCrypto would name it ("SHA-224", "SHA3-256"); a `saltLength` means PSS (MGF1 with the same hash), none PKCS #1 v1.5. */
export interface RsaSigningAnyHash {
  /** The PKCS #8 key's signature of `message`. */
  sign(pkcs8: Uint8Array, hash: string, message: Uint8Array, saltLength?: number): Uint8Array;
  /** Whether `signature` is the SPKI key's signature of `message`. */
  verify(spki: Uint8Array, hash: string, message: Uint8Array, signature: Uint8Array, saltLength?: number): boolean;
}

let installed: PlatformCrypto = {};

/** Installed once by a runtime adapter at start-up (tests install and remove it). */
export function installPlatformCrypto(crypto: PlatformCrypto): void {
  installed = crypto;
}

export function platformCrypto(): PlatformCrypto {
  return installed;
}
