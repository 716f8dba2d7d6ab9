import { AesGcmBarrier } from "./barrier/aes-gcm-barrier.js";
import { KeyRotation } from "./barrier/key-rotation.js";
import type { SecurityBarrier } from "./barrier/types.js";
import { DRAIN_TIMEOUT_MS, InFlightRequests } from "./ha/drain.js";
import { type HAOptions, Leadership, type LeaderView } from "./ha/leadership.js";
import { SwitchableBackend } from "./ha/switchable-backend.js";
import { type Logger, silentLogger } from "./sdk/logger.js";
import { randomUuid } from "./sdk/encoding.js";
import { Housekeeping } from "./logical/housekeeping.js";
import { loadLogicalState, type LogicalOptions } from "./logical/state.js";
import { loadNodeState, type NodeState } from "./audit/node-state.js";
import { LogicalError } from "./sdk/types.js";
import type { Backend } from "./physical/backend.js";
import { CachedBackend, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_ENTRIES } from "./physical/cache.js";
import type { CacheLimits } from "./sdk/lru.js";
import { type RequestEntry, Router, type RouterNode, standbyRouter, trackedEntry } from "./request/router.js";
import type { InitKeys, InitRequest, Seal } from "./seal/seal.js";
import { checkUnsealRequest } from "./seal/migration.js";
import { sealStatusBody } from "./seal/seal-status.js";
import { defaultSeal } from "./seal/registry.js";
import { OperatorKeyOperations } from "./seal/operator-keys.js";
export type { CoreRequest } from "./sdk/types.js";
export type { InitRequest } from "./seal/seal.js";
export interface CoreOptions {
  physical: Backend;
  ha?: HAOptions;
  /** Guards the barrier key; the registry's default seal unless the configuration names another. */
  seal?: Seal;
  /** Storage type name for seal-status and the banner. */
  storageType: string;
  /** The active node's storage read cache (Vault's `cache_size`, `disable_cache`); on by default. */
  cache?: Partial<CacheLimits> & { disabled?: boolean };
  logger?: Logger;
  now?: () => number;
  leaseTtls?: LogicalOptions["leaseTtls"];
  observability?: RouterNode["observability"];
}

export interface InitResult extends InitKeys {
  root_token: string;
}

/**
 * The node's state machine: sealed → unsealed, and with HA, standby ⇄ active. Owns the barrier
 * and the unsealed state; the seal gives it the barrier key, leadership decides its role, and
 * the router turns requests into responses.
 */
export class Core {
  readonly storageType: string;
  readonly #physical: Backend;
  readonly #barrierStorage: SwitchableBackend;
  readonly #cache: CachedBackend | null;
  readonly #barrier: SecurityBarrier;
  readonly #seal: Seal;
  readonly #keys: KeyRotation;
  readonly #leadership: Leadership | null;
  readonly #logger: Logger;
  readonly #logical: LogicalOptions;
  readonly #inFlight = new InFlightRequests();
  #state: NodeState | null = null;
  #draining = false;
  #initialized: boolean | null = null; // until storage first answers
  #clusterId = "";
  readonly #housekeeping: Housekeeping;
  readonly operatorKeys: OperatorKeyOperations;
  /** Where requests enter (the active serves them; a standby throws StandbyError), each counted in flight. */
  readonly requests: RequestEntry;

  constructor(options: CoreOptions) {
    this.#physical = options.physical;
    this.#barrierStorage = new SwitchableBackend(options.physical);
    // Below the barrier, so it holds ciphertext and every read is still authenticated.
    const { disabled, entries = DEFAULT_CACHE_ENTRIES, bytes = DEFAULT_CACHE_BYTES } = options.cache ?? {};
    const counted = (hit: boolean) => options.observability?.metrics?.increment(hit ? "vault_cache_hit" : "vault_cache_miss");
    this.#cache = disabled ? null : new CachedBackend(this.#barrierStorage, { entries, bytes }, counted);
    this.#barrier = new AesGcmBarrier(this.#cache ?? this.#barrierStorage);
    this.#seal = options.seal ?? defaultSeal(options.physical);
    this.#keys = new KeyRotation(this.#barrier, options.now ?? Date.now);
    this.operatorKeys = new OperatorKeyOperations(this.#seal, this.#barrier, () => this.#unsealedState(), options.now);
    this.storageType = options.storageType;
    this.#logger = (options.logger ?? silentLogger).named("core");
    this.#logical = { now: options.now ?? Date.now, leaseTtls: options.leaseTtls };
    this.#housekeeping = new Housekeeping(() => (this.isActive() ? this.#state : null), this.#logical.now, this.#logger);
    this.#leadership = options.ha
      ? new Leadership(options.ha, {
          physical: this.#physical,
          barrierStorage: this.#barrierStorage,
          barrier: this.#barrier,
          // The previous active may have changed mounts and tokens: start from what storage says.
          prepareActive: async (hold) => {
            // Cache only for this term, from empty: the previous active may have written anything.
            this.#cache?.begin(hold);
            // The previous active may have rotated the barrier key: write with the newest term.
            await this.#barrier.reloadKeyring();
            await this.#seal.completeMigration?.(this.#barrierStorage);
            this.#keys.reset();
            const state = await loadNodeState(this.#barrier, this.#logical);
            if (!this.sealed) this.#state = state;
          },
          sealed: () => this.sealed,
          logger: this.#logger,
          logical: this.#logical,
          standbyRouter: standbyRouter(this.#logical.now, { audit: options.ha.audit, metrics: options.ha.metrics }),
          cacheLimits: disabled ? null : { entries, bytes },
        })
      : null;
    this.requests = trackedEntry(
      new Router({
        state: () => this.#unsealedState(),
        isActive: () => this.isActive(),
        standbyState: () => this.#leadership!.standbyState(),
        now: this.#logical.now,
        seal: () => this.seal({ fromRequest: true }),
        stepDown: () => this.stepDown({ fromRequest: true }),
        haStatus: () => this.#leadership?.status() ?? [],
        keys: this.#keys,
        rekeyBackups: { rekey: this.operatorKeys.rekey, "rekey-recovery-key": this.operatorKeys.rekeyRecovery },
        observability: options.observability,
      }),
      this.#inFlight,
    );
  }

  get sealed(): boolean {
    return this.#state === null;
  }

  /** Shutting down: sys/health says so, so load balancers stop sending before the node goes. */
  get draining(): boolean {
    return this.#draining;
  }

  beginDraining(): void {
    this.#draining = true;
  }

  get clusterId(): string {
    return this.#clusterId;
  }

  get haEnabled(): boolean {
    return this.#leadership !== null;
  }

  /** The node's HA role and its cluster channel; null without HA. */
  get leadership(): Leadership | null {
    return this.#leadership;
  }

  /** Serving as active now: unsealed and, with HA, certainly still holding the lock. */
  isActive(): boolean {
    if (this.sealed) return false;
    return this.#leadership?.isActive() ?? true;
  }

  async initialized(): Promise<boolean> {
    // The seal configuration carries the cluster id; remember it for sys/health and seal-status.
    const config = await this.#seal.config();
    if (config) this.#clusterId = config.cluster_id;
    return (this.#initialized = config !== null && (await this.#barrier.initialized()));
  }

  /** Storage's last answer to `initialized()` (null before the first): sys/health reports it, never waiting on storage. */
  get knownInitialized(): boolean | null {
    return this.#initialized;
  }

  /** Body of sys/seal-status (and of sys/unseal's answer). */
  async sealStatus(): Promise<Record<string, unknown>> {
    const initialized = await this.initialized();
    return sealStatusBody(this.#seal, { initialized, sealed: this.sealed, storageType: this.storageType, clusterId: this.clusterId });
  }

  /** True when the seal can give the barrier key without operator input (auto-unseal). */
  get unsealsItself(): boolean {
    return this.#seal.storedBarrierKey !== undefined;
  }

  async initialize(request: InitRequest & { rootTokenId?: string }): Promise<InitResult> {
    if (await this.initialized()) throw new LogicalError(400, "Vault is already initialized");
    await this.#seal.checkInit(request);
    const barrierKey = crypto.getRandomValues(new Uint8Array(32));
    let result: InitResult;
    await this.#barrier.initialize(barrierKey);
    await this.#barrier.unseal(barrierKey);
    try {
      // Opening the stores writes their initial entries (salt, default policy, tables).
      const { tokens } = await loadLogicalState(this.#barrier, this.#logical);
      const { token } = await tokens.create({ id: request.rootTokenId, policies: ["root"], path: "auth/token/root" });
      await this.#keys.initialize();
      const keys = await this.#seal.initialize(barrierKey, request, randomUuid());
      const config = await this.#seal.config();
      await this.initialized();
      this.#logger.info("security barrier initialized", { seal: this.#seal.type, shares: config?.secret_shares, threshold: config?.secret_threshold });
      result = { ...keys, root_token: token };
    } finally {
      this.#barrier.seal();
    }
    // As Vault: a node whose seal keeps the key unseals right after init.
    if (this.unsealsItself) {
      await this.unsealWithStoredKey().catch((error: unknown) => {
        this.#logger.warn("initialized, but could not unseal with the seal's stored key", { error: (error as Error).message });
      });
    }
    return result;
  }

  /** Auto-unseal with the seal's own key: "uninitialized" while nothing is (another node may initialize it). */
  async unsealWithStoredKey(): Promise<"unsealed" | "uninitialized"> {
    if (!this.#seal.storedBarrierKey) throw new LogicalError(400, `the ${this.#seal.type} seal needs operator keys to unseal`);
    if (!this.sealed) return "unsealed";
    if (!(await this.initialized())) return "uninitialized";
    await checkUnsealRequest(this.#seal, false);
    await this.#openBarrier(() => this.#seal.storedBarrierKey!());
    return "unsealed";
  }

  /** Adds one unseal key share (`migrate`: the old seal's, in seal migration mode); unseals once the seal has enough. */
  async submitUnsealKey(share: Uint8Array, migrate = false): Promise<void> {
    if (!(await this.initialized())) throw new LogicalError(400, "Vault is not initialized");
    if (!this.sealed) return;
    await checkUnsealRequest(this.#seal, migrate);
    await this.#openBarrier(async () => (await this.#seal.submitKey(share))?.barrierKey ?? null);
  }

  /** Unseals with the key the seal gives (none yet: more operator keys are needed). */
  async #openBarrier(barrierKeyFromSeal: () => Promise<Uint8Array | null>): Promise<void> {
    try {
      const barrierKey = await barrierKeyFromSeal();
      if (!barrierKey) return;
      await this.#barrier.unseal(barrierKey);
    } catch (error) {
      if (error instanceof LogicalError) throw error;
      this.#logger.warn("unseal attempt failed", { reason: (error as Error).name });
      throw new LogicalError(400, "failed to unseal: the combined key shares do not open the barrier (wrong or mismatched keys)");
    }
    // Without HA this node is the only writer; with HA the migration waits for the lock (prepareActive).
    if (!this.#leadership) await this.#seal.completeMigration?.(this.#physical).catch((error: unknown) => this.#sealAfter(error));
    const state = await loadNodeState(this.#barrier, this.#logical);
    if (!this.sealed) return; // unsealed meanwhile by the other path (operator key or stored key)
    this.#state = state;
    this.#keys.reset();
    // Without HA this node is the only writer for as long as it is unsealed.
    if (!this.#leadership) this.#cache?.begin();
    this.#logger.info("vault is unsealed");
    this.#leadership?.start();
    this.#housekeeping.start();
  }

  #sealAfter(error: unknown): never {
    this.#barrier.seal();
    throw error;
  }

  resetUnseal(): void {
    this.operatorKeys.forgetShares();
  }

  /** Where the active node is, as this node sees it. */
  async leader(): Promise<LeaderView> {
    if (!this.#leadership || this.sealed) return { isSelf: false, advertisement: null };
    return this.#leadership.leader();
  }

  /** Gives up active duty once the requests inside (`fromRequest`: this one among them) finished, then sits out the cool-down. */
  async stepDown({ fromRequest = false } = {}): Promise<void> {
    await this.#leadership?.stepDown(() => this.#settled(fromRequest));
  }

  async seal({ fromRequest = false } = {}): Promise<void> {
    if (this.sealed) return;
    // Let the requests inside finish, then release the lock before sealing, so a standby takes over at once.
    this.#housekeeping.stop();
    await this.#leadership?.stop(() => this.#settled(fromRequest));
    this.#state = null;
    this.#cache?.end();
    this.#barrier.seal();
    this.resetUnseal();
    this.#logger.info("vault is sealed");
  }

  async #settled(fromRequest: boolean): Promise<void> {
    if (await this.#inFlight.settled(DRAIN_TIMEOUT_MS, fromRequest ? 1 : 0)) return;
    this.#logger.warn("requests still running when the lock is released; fencing stops their writes", { requests: this.#inFlight.count });
  }

  #unsealedState(): NodeState {
    if (!this.#state) throw new LogicalError(503, "Vault is sealed");
    return this.#state;
  }

  /** Mounts a secrets engine (used by dev mode; the API goes through `handle`). */
  async enableMount(path: string, data: Record<string, unknown>): Promise<void> {
    await this.#unsealedState().mounts.enable(path, data);
  }
}
