import type { Storage } from "../sdk/types.js";

/**
 * The security barrier: everything stored through it is AES-256-GCM encrypted with the keyring's
 * active term key; the keyring is encrypted by the root key, the root key by the unseal key
 * (split into Shamir shares by the seal). Plain (`Storage`) when unsealed; every data call
 * throws `SealedError` when sealed.
 */
export interface SecurityBarrier extends Storage {
  /** True once `initialize` has written the keyring. Works while sealed. */
  initialized(): Promise<boolean>;
  /** Creates root key and keyring, protected by `unsealKey` (32 bytes). Leaves the barrier sealed. */
  initialize(unsealKey: Uint8Array): Promise<void>;
  /** Opens the barrier; throws `InvalidKeyError` when the key does not decrypt the root key. */
  unseal(unsealKey: Uint8Array): Promise<void>;
  /** Whether `unsealKey` decrypts the stored root key (rekey and generate-root check operator shares with it). Works while sealed. */
  verifyUnsealKey(unsealKey: Uint8Array): Promise<boolean>;
  /** Rekey: stores the root key wrapped by `newUnsealKey` instead of `currentUnsealKey`, in one write. */
  rewrapRootKey(currentUnsealKey: Uint8Array, newUnsealKey: Uint8Array): Promise<void>;
  /** Forgets every key in memory. */
  seal(): void;
  readonly sealed: boolean;
  /** Adds a new keyring term and makes it active; old terms still decrypt. Returns the new term. */
  rotate(): Promise<number>;
  /** Active keyring term (1 after initialize). */
  activeTerm(): number;
  /** Encryptions made since the last call (for sys/key-status and automatic rotation). */
  takeEncryptions(): number;
  /** Reads the stored keyring again: another node may have rotated since this one unsealed. */
  reloadKeyring(): Promise<void>;
}

export class SealedError extends Error {
  override name = "SealedError";
  constructor() {
    super("Vault is sealed");
  }
}

export class InvalidKeyError extends Error {
  override name = "InvalidKeyError";
}

/** Ciphertext failed authentication (tampered, truncated, wrong path, unknown term). */
export class TamperedError extends Error {
  override name = "TamperedError";
}
