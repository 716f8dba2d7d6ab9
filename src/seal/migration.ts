/**
 * Seal migration as Vault does it: a node configured with a new seal (`to`) finds the cluster's
 * stored seal configuration still names the old one (`from`). It stays sealed — no auto-unseal —
 * until an operator gives the OLD seal's keys with `migrate: true`; those keys become the new seal's
 * keys (Shamir unseal keys become recovery keys, recovery keys become unseal keys). The new
 * configuration is prepared at that unseal (so a failing KMS is reported to the operator there) and
 * written only by the node that may write: the active, through its fenced storage view, once it
 * holds the lock (or at once without HA). The write is one put of the seal configuration, so a
 * crash leaves either the old seal or the new one, never a mix.
 */
import { AesGcmBarrier } from "../barrier/aes-gcm-barrier.js";
import { InvalidKeyError } from "../barrier/types.js";
import type { Logger } from "../sdk/logger.js";
import { stringifyJson } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import type { Backend } from "../physical/backend.js";
import {
  type InitKeys,
  type InitRequest,
  type OperatorUnseal,
  type Seal,
  type SealConfig,
  SealConfigStore,
  type ShareCounts,
  type UnsealKeyWrapping,
} from "./seal.js";

/** The node is in seal migration mode and was asked to unseal without `migrate`. */
export class SealMigrationPendingError extends LogicalError {
  constructor(from: Seal, to: Seal) {
    const keys = from.recoverySeal ? "recovery keys" : "unseal keys";
    super(
      400,
      `seal migration from "${from.type}" to "${to.type}" is pending: unseal with "migrate": true (operator unseal -migrate) and the ${from.type} seal's ${keys}`,
    );
  }
}

/**
 * Before an unseal: the stored seal must be the configured one, or — with `migrate` — the one a
 * pending migration moves away from.
 */
export async function checkUnsealRequest(seal: Seal, migrate: boolean): Promise<void> {
  const stored = (await seal.config())?.type;
  if (seal instanceof MigratingSeal && seal.migrating) {
    if (!migrate) throw seal.pendingError();
    return;
  }
  if (migrate)
    throw new LogicalError(
      400,
      `"migrate" was given, but no seal migration is pending on this node (its configured seal "${seal.type}" is the stored one); unseal without it`,
    );
  if (stored && stored !== seal.type) {
    throw new LogicalError(
      400,
      `this cluster was initialized with the "${stored}" seal, but this node is configured with the "${seal.type}" seal; configure the "${stored}" seal, or migrate to this one (see "Seal migration" in docs/operations.md)`,
    );
  }
}

interface PreparedMigration {
  /** The stored configuration the keys were checked against. */
  from: SealConfig;
  to: SealConfig;
  barrierKey: Uint8Array;
}

/**
 * Presents `from` while the stored configuration is still `from`'s (seal-status type, t/n and
 * `migration: true`), and `to` once the migration is done — here or by another node.
 */
export class MigratingSeal implements Seal {
  readonly storedBarrierKey?: () => Promise<Uint8Array>;
  readonly #configs: SealConfigStore;
  #pending = false;
  /** Seen done (stored configuration no longer `from`'s): the node is `to` from then on. */
  #migrated = false;
  #prepared: PreparedMigration | null = null;

  constructor(
    private readonly from: Seal,
    private readonly to: Seal,
    physical: Backend,
    private readonly logger: Logger,
  ) {
    this.#configs = new SealConfigStore(physical);
    const autoUnseal = to.storedBarrierKey?.bind(to);
    if (autoUnseal) {
      this.storedBarrierKey = async () => {
        if (await this.#refresh()) throw this.pendingError();
        return autoUnseal();
      };
    }
  }

  get type(): string {
    return this.#current().type;
  }

  get recoverySeal(): boolean {
    return this.#current().recoverySeal;
  }

  get migrating(): boolean {
    return this.#pending;
  }

  pendingError(): SealMigrationPendingError {
    return new SealMigrationPendingError(this.from, this.to);
  }

  checkInit(request: InitRequest): void | Promise<void> {
    return this.to.checkInit(request);
  }

  initialize(barrierKey: Uint8Array, request: InitRequest, clusterId: string): Promise<InitKeys> {
    return this.to.initialize(barrierKey, request, clusterId);
  }

  async config(): Promise<SealConfig | null> {
    return (await this.#refresh()) ? this.from.config() : this.to.config();
  }

  /** While pending: the old seal's keys, and the new seal's configuration made ready from them. */
  async submitKey(share: Uint8Array): Promise<OperatorUnseal | null> {
    if (!(await this.#refresh())) return this.to.submitKey(share);
    const keys = await this.from.submitKey(share);
    if (!keys) return null;
    const from = (await this.from.config())!;
    const to = await this.to.migratedConfig(keys.barrierKey, keys.operatorKey, from);
    this.#prepared = { from, to, barrierKey: new Uint8Array(keys.barrierKey) };
    return keys;
  }

  migratedConfig(barrierKey: Uint8Array, operatorKey: Uint8Array, previous: SealConfig): Promise<SealConfig> {
    return this.to.migratedConfig(barrierKey, operatorKey, previous);
  }

  writeConfig(config: SealConfig, storage: Backend): Promise<void> {
    return this.to.writeConfig(config, storage);
  }

  /**
   * Writes the prepared configuration, if the stored one is still the one the keys were checked
   * against and the key still opens the barrier (a rekey elsewhere meanwhile would make it stale).
   */
  async completeMigration(storage: Backend): Promise<void> {
    if (this.#migrated) return;
    const stored = await this.#configs.reload();
    if (stored?.type !== this.from.type) {
      this.#refreshWith(stored);
      return;
    }
    const prepared = this.#prepared;
    if (!prepared) return;
    if (stringifyJson(stored) !== stringifyJson(prepared.from) || !(await opensBarrier(storage, prepared.barrierKey))) {
      this.#forgetPrepared();
      this.logger.error(
        `seal migration not completed: the stored "${this.from.type}" seal changed since this node was unsealed with -migrate; seal it and unseal it again with -migrate`,
      );
      return;
    }
    await this.to.writeConfig(prepared.to, storage);
    this.#forgetPrepared();
    this.#refreshWith(prepared.to);
    this.logger.info("seal migration completed", { from: this.from.type, to: this.to.type });
  }

  /** Rekey and root generation take the keys of the seal in force (the old one until the migration is done). */
  checkOperatorKey(key: Uint8Array, barrier: UnsealKeyWrapping): Promise<boolean> {
    return this.#current().checkOperatorKey(key, barrier);
  }

  replaceOperatorKey(current: Uint8Array, next: Uint8Array, split: ShareCounts, barrier: UnsealKeyWrapping): Promise<void> {
    return this.#current().replaceOperatorKey(current, next, split, barrier);
  }

  reset(): void {
    this.from.reset();
    this.to.reset();
  }

  progress(): { progress: number; nonce: string } {
    return this.#current().progress();
  }

  #current(): Seal {
    return this.#pending ? this.from : this.to;
  }

  /** Reads storage until the migration is seen done: another node may complete it meanwhile. */
  async #refresh(): Promise<boolean> {
    if (!this.#migrated) this.#refreshWith(await this.#configs.reload());
    return this.#pending;
  }

  #refreshWith(stored: SealConfig | null): void {
    this.#pending = stored?.type === this.from.type;
    if (stored && !this.#pending) {
      this.#migrated = true;
      this.#forgetPrepared();
    }
  }

  #forgetPrepared(): void {
    this.#prepared?.barrierKey.fill(0);
    this.#prepared = null;
  }
}

/** True when `barrierKey` decrypts the stored root key (a throwaway barrier, sealed again at once); storage errors propagate. */
async function opensBarrier(storage: Backend, barrierKey: Uint8Array): Promise<boolean> {
  const barrier = new AesGcmBarrier(storage);
  try {
    await barrier.unseal(barrierKey);
    return true;
  } catch (error) {
    if (error instanceof InvalidKeyError) return false;
    throw error;
  } finally {
    barrier.seal();
  }
}
