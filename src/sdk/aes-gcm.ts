/**
 * AES-GCM with a raw key, synchronously, where the runtime has it. WebCrypto serves AES-GCM
 * everywhere, but Node runs each WebCrypto call as a job on libuv's thread pool, and that hand-off
 * costs several times the cipher itself on a kilobyte (about 20 µs of CPU against 5 µs on a
 * loaded two-core machine). A runtime with a synchronous AES-GCM of its platform's own crypto
 * library (adapters/node: node:crypto, the OpenSSL WebCrypto uses there) installs it here; without
 * one, callers use WebCrypto.
 */
export interface SyncAesGcm {
  /** ciphertext ‖ 16-byte tag. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array): Uint8Array;
  /** The plaintext of ciphertext ‖ tag, or null when it does not authenticate. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, associatedData?: Uint8Array): Uint8Array | null;
}

let installed: SyncAesGcm | null = null;

/** Installed once by a runtime adapter at start-up. */
export function setSyncAesGcm(aesGcm: SyncAesGcm | null): void {
  installed = aesGcm;
}

export function syncAesGcm(): SyncAesGcm | null {
  return installed;
}
