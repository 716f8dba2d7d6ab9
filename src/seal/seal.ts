import type { Backend } from "../physical/backend.js";
import { decodeJson, encodeJson } from "../sdk/encoding.js";

/**
 * A seal guards the barrier key: the core asks it for the key at unseal and never needs to know
 * how it is protected (split among key holders, or wrapped by a KMS).
 */
export interface Seal {
  /** Reported as seal-status `type`. */
  readonly type: string;
  /** True for seals that unseal by themselves and hand out recovery keys instead of unseal keys. */
  readonly recoverySeal: boolean;
  /** Rejects (4xx) an init request the seal cannot honour, or a seal it cannot use, before anything is written. */
  checkInit(request: InitRequest): void | Promise<void>;
  /**
   * Protects a new barrier key and stores the seal's configuration (in plaintext, so a sealed node
   * can report it). Called last in init: a node is initialized once the configuration exists.
   */
  initialize(barrierKey: Uint8Array, request: InitRequest, clusterId: string): Promise<InitKeys>;
  /** The stored configuration, or null before init. */
  config(): Promise<SealConfig | null>;
  /**
   * Auto-unseal: the barrier key, obtained without operator input. Only seals that keep the key
   * themselves (wrapped by a KMS) have it; rejects when the key cannot be unwrapped now.
   */
  storedBarrierKey?(): Promise<Uint8Array>;
  /**
   * Takes one operator key share (an unseal key, or a recovery key for a recovery seal); once enough
   * have been given, resolves the barrier key and the operator key the shares combine to, else null.
   */
  submitKey(share: Uint8Array): Promise<OperatorUnseal | null>;
  /**
   * Seal migration to this seal: a configuration that protects `barrierKey` with this seal and keeps
   * `operatorKey` (the previous seal's combined operator key) as this seal's operator key, with
   * `previous`'s shares, threshold and cluster id. Computed, not written.
   */
  migratedConfig(barrierKey: Uint8Array, operatorKey: Uint8Array, previous: SealConfig): Promise<SealConfig>;
  /** Stores a configuration `migratedConfig` made, through `storage` (the lock holder's fenced view). */
  writeConfig(config: SealConfig, storage: Backend): Promise<void>;
  /** True while the stored seal is the one a configured migration moves away from (seal-status `migration`). */
  readonly migrating?: boolean;
  /** Finishes a pending migration; called by the node that may write (the active, or the only node). */
  completeMigration?(storage: Backend): Promise<void>;
  /**
   * Whether `key` (operator shares combined) is this cluster's operator key: the unseal key, or the
   * recovery key for a recovery seal. Rekey and generate-root are authorized with it.
   */
  checkOperatorKey(key: Uint8Array, barrier: UnsealKeyWrapping): Promise<boolean>;
  /** Rekey: makes `next` the operator key instead of `current` (already checked), split as `split` says. */
  replaceOperatorKey(current: Uint8Array, next: Uint8Array, split: ShareCounts, barrier: UnsealKeyWrapping): Promise<void>;
  /** Forgets keys given so far. */
  reset(): void;
  /** The unseal progress: keys given so far and the attempt's nonce. */
  progress(): { progress: number; nonce: string };
}

/** What the seal needs from the barrier for rekey: the root key is wrapped by the unseal key. */
export interface UnsealKeyWrapping {
  verifyUnsealKey(unsealKey: Uint8Array): Promise<boolean>;
  rewrapRootKey(currentUnsealKey: Uint8Array, newUnsealKey: Uint8Array): Promise<void>;
}

export interface ShareCounts {
  shares: number;
  threshold: number;
}

/** sys/init's parameters; which ones a seal needs is its own business (checkInit). */
export interface InitRequest {
  secret_shares?: number;
  secret_threshold?: number;
  recovery_shares?: number;
  recovery_threshold?: number;
}

/** What a threshold of operator key shares yields. */
export interface OperatorUnseal {
  barrierKey: Uint8Array;
  /** The key the shares combine to: the barrier key itself, a key that unwraps it, or the recovery key. */
  operatorKey: Uint8Array;
}

export interface InitKeys {
  keys: string[];
  keys_base64: string[];
  recovery_keys?: string[];
  recovery_keys_base64?: string[];
}

/**
 * Stored in plaintext; the cluster id is shared by every node (sys/health, sys/seal-status).
 * `secret_shares`/`secret_threshold` count the key shares operators hold: unseal keys, or recovery
 * keys for a recovery seal (seal-status reports them as n and t either way, as Vault does).
 */
export interface SealConfig {
  type: string;
  secret_shares: number;
  secret_threshold: number;
  cluster_id: string;
}

const SEAL_CONFIG_KEY = "core/seal-config";

/**
 * Reads and writes the seal configuration, caching it once read. A seal migration or a rekey changes
 * it after init; a node that did not make the change reads it again when it needs to be current.
 */
export class SealConfigStore<C extends SealConfig = SealConfig> {
  #config: C | null = null;

  constructor(private readonly physical: Backend) {}

  async read(): Promise<C | null> {
    if (!this.#config) {
      const bytes = await this.physical.get(SEAL_CONFIG_KEY);
      this.#config = bytes ? decodeJson<C>(bytes) : null;
    }
    return this.#config;
  }

  /** Reads storage again: another node may have migrated or rekeyed the seal since. */
  async reload(): Promise<C | null> {
    this.#config = null;
    return this.read();
  }

  async write(config: C, storage = this.physical): Promise<void> {
    await storage.put(SEAL_CONFIG_KEY, encodeJson(config));
    this.#config = config;
  }
}
