import { AesGcmBarrier } from "./barrier/aes-gcm-barrier.js";
import { combineShares, splitSecret } from "./barrier/shamir.js";
import type { SecurityBarrier } from "./barrier/types.js";
import { type Logger, silentLogger } from "./logger.js";
import { type Acl, authorise, invalidToken, permissionDenied } from "./logical/acl.js";
import { handleSysAuth, isSysAuthPath, issueLoginToken } from "./logical/auth/auth-routes.js";
import { AuthTable, type MountedAuth } from "./logical/auth/auth-table.js";
import { canonicalRequestPath } from "./logical/canonical-path.js";
import { addressInBlocks, parseCidrList } from "./logical/cidr.js";
import { decodeJson, encodeJson, randomUuid, rfc3339, toBase64, toHex } from "./logical/encoding.js";
import { describeMount, MountTable } from "./logical/mounts.js";
import { handlePolicyRequest, isPolicyPath } from "./logical/policy/policy-routes.js";
import { PolicyStore } from "./logical/policy/policy-store.js";
import { storageView } from "./logical/storage-view.js";
import { handleTokenRequest } from "./logical/token-routes.js";
import { type TokenEntry, TokenStore } from "./logical/token-store.js";
import { type HandlerResult, LogicalError, type MountEntry, type Operation } from "./logical/types.js";
import type { Backend } from "./physical/backend.js";
import { type HABackend, isFenceable, type LockHold } from "./physical/ha.js";
import { type Advertisement, readAdvertisement, writeAdvertisement } from "./ha/advertisement.js";
import { Election } from "./ha/election.js";
import { generateClusterIdentity } from "./ha/identity.js";
import { LOCK_KEY } from "./ha/lock-key.js";
import { SwitchableBackend, writableWhileHeld } from "./ha/switchable-backend.js";
import { VERSION } from "./version.js";

/** Kept in plaintext (as Vault does) so a sealed node can report its threshold. */
const SEAL_CONFIG_KEY = "core/seal-config";

interface SealConfig {
  type: "shamir";
  secret_shares: number;
  secret_threshold: number;
  /** Shared by every node of the cluster (sys/health, sys/seal-status). */
  cluster_id: string;
}

export { LOCK_KEY } from "./ha/lock-key.js";

export interface HAOptions {
  backend: HABackend;
  /** Random per process: a restarted node is a new member. */
  nodeId: string;
  /** Reported in sys/ha-status. */
  hostname: string;
  apiAddr: string;
  clusterAddr: string;
  /** How long a node that stepped down stays out of the election. */
  stepDownCooldownMs: number;
  /** Lifetime of each active term's cluster certificate. */
  identityValidityMs?: number;
  /** Told when this node starts or stops serving as active (the adapter runs cluster listeners). */
  onActive?(advertisement: Advertisement): void;
  onStandby?(): void;
}

/** What a standby tells the active over the cluster channel, periodically. */
export interface Heartbeat {
  node_id: string;
  hostname: string;
  api_address: string;
  cluster_address: string;
  version: string;
  /** The standby's forwarding counters, so fallbacks to 307 are visible cluster-wide. */
  forwarded_requests: number;
  forwarding_fallbacks: number;
}

/** Standbys silent for longer than this drop out of sys/ha-status. */
const HEARTBEAT_EXPIRY_MS = 30_000;

/** What a node knows of the active node. */
export interface LeaderView {
  isSelf: boolean;
  advertisement: Advertisement | null;
}

/** Thrown by `handle` on a node that is not (or no longer) active: the HTTP layer routes the request. */
export class StandbyError extends Error {
  override name = "StandbyError";
  constructor() {
    super("this node is a standby");
  }
}

const DEFAULT_IDENTITY_VALIDITY_MS = 7 * 24 * 3600 * 1000;
/** How long a standby trusts its last look at the lock record before reading it again. */
const LEADER_CACHE_MS = 250;

export interface CoreOptions {
  physical: Backend;
  ha?: HAOptions;
  /** Storage type name for seal-status and the banner. */
  storageType: string;
  logger?: Logger;
  now?: () => number;
}

export interface CoreRequest {
  operation: Operation;
  /** API path without "/v1/", e.g. "secret/data/foo". */
  path: string;
  data: Record<string, unknown>;
  token: string;
  /** The client's IP address, filled in by the HTTP adapter when the runtime exposes it (CIDR bindings). */
  clientAddress?: string;
}

export interface InitResult {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

type CallerToken = TokenEntry & { hash: string };

/** A node's unsealed state; rebuilt at every unseal, dropped at seal. */
interface Unsealed {
  tokens: TokenStore;
  mounts: MountTable;
  policies: PolicyStore;
  auths: AuthTable;
}

/**
 * The node's state machine: sealed → unsealed (active; standby arrives with HA). Owns the
 * barrier, the unseal progress, and request dispatch to the token store and the mounts.
 */
export class Core {
  readonly storageType: string;
  readonly #physical: Backend;
  readonly #barrierStorage: SwitchableBackend;
  readonly #barrier: SecurityBarrier;
  readonly #ha: HAOptions | undefined;
  #election: Election | null = null;
  #advertisement: Advertisement | null = null;
  readonly #heartbeats = new Map<string, Heartbeat & { at: number }>();
  /**
   * The active's advertisement as a standby last read it, and when: trusted as is for
   * LEADER_CACHE_MS, then reused without a storage read while the lock's holder and epoch match.
   */
  #seenLeader: { advertisement: Advertisement; readAt: number } | null = null;
  readonly #logger: Logger;
  readonly #now: () => number;
  #unsealShares: Uint8Array[] = [];
  #unsealNonce = "";
  #unsealed: Unsealed | null = null;
  #sealConfig: SealConfig | null = null;

  constructor(options: CoreOptions) {
    this.#physical = options.physical;
    this.#barrierStorage = new SwitchableBackend(options.physical);
    this.#barrier = new AesGcmBarrier(this.#barrierStorage);
    this.#ha = options.ha;
    this.storageType = options.storageType;
    this.#logger = (options.logger ?? silentLogger).named("core");
    this.#now = options.now ?? Date.now;
  }

  get sealed(): boolean {
    return this.#unsealed === null;
  }

  get clusterId(): string {
    return this.#sealConfig?.cluster_id ?? "";
  }

  get haEnabled(): boolean {
    return this.#ha !== undefined;
  }

  /** Serving as active now: unsealed and, with HA, certainly still holding the lock. */
  isActive(): boolean {
    if (this.sealed) return false;
    if (!this.#ha) return true;
    return (this.#election?.hold ?? null) !== null && this.#advertisement !== null;
  }

  async initialized(): Promise<boolean> {
    return (await this.#readSealConfig()) !== null && (await this.#barrier.initialized());
  }

  async #readSealConfig(): Promise<SealConfig | null> {
    if (!this.#sealConfig) {
      const bytes = await this.#physical.get(SEAL_CONFIG_KEY);
      this.#sealConfig = bytes ? decodeJson<SealConfig>(bytes) : null;
    }
    return this.#sealConfig;
  }

  /** Body of sys/seal-status (and of sys/unseal's answer). */
  async sealStatus(): Promise<Record<string, unknown>> {
    const initialized = await this.initialized();
    const config = this.#sealConfig;
    return {
      type: "shamir",
      initialized,
      sealed: this.sealed,
      t: config?.secret_threshold ?? 0,
      n: config?.secret_shares ?? 0,
      progress: this.#unsealShares.length,
      nonce: this.#unsealNonce,
      migration: false,
      recovery_seal: false,
      storage_type: this.storageType,
      cluster_id: initialized && !this.sealed ? this.clusterId : undefined,
    };
  }

  async initialize(request: { secret_shares: number; secret_threshold: number; rootTokenId?: string }): Promise<InitResult> {
    if (await this.initialized()) throw new LogicalError(400, "Vault is already initialized");
    const { secret_shares: shares, secret_threshold: threshold } = request;
    const unsealKey = crypto.getRandomValues(new Uint8Array(32));
    let keyShares: Uint8Array[];
    try {
      keyShares = await splitSecret(unsealKey, shares, threshold);
    } catch (error) {
      throw new LogicalError(400, (error as Error).message);
    }
    await this.#barrier.initialize(unsealKey);
    await this.#barrier.unseal(unsealKey);
    try {
      // Opening the stores writes their initial entries (salt, default policy, tables).
      const { tokens } = await this.#loadUnsealedState();
      const { token } = await tokens.create({ id: request.rootTokenId, policies: ["root"], path: "auth/token/root" });
      const config: SealConfig = { type: "shamir", secret_shares: shares, secret_threshold: threshold, cluster_id: randomUuid() };
      await this.#physical.put(SEAL_CONFIG_KEY, encodeJson(config));
      this.#sealConfig = config;
      this.#logger.info("security barrier initialized", { stored: 1, shares, threshold });
      return { keys: keyShares.map(toHex), keys_base64: keyShares.map(toBase64), root_token: token };
    } finally {
      this.#barrier.seal();
    }
  }

  /** Adds one unseal key share; unseals once the threshold is reached. */
  async submitUnsealKey(share: Uint8Array): Promise<void> {
    const config = await this.#readSealConfig();
    if (!config || !(await this.#barrier.initialized())) throw new LogicalError(400, "Vault is not initialized");
    if (!this.sealed) return;
    if (this.#unsealShares.some((s) => s.length === share.length && s.every((b, i) => b === share[i]))) return;
    if (this.#unsealShares.length === 0) this.#unsealNonce = randomUuid();
    this.#unsealShares.push(share);
    if (this.#unsealShares.length < config.secret_threshold) return;
    const shares = this.#unsealShares;
    this.resetUnseal();
    let unsealKey: Uint8Array;
    try {
      unsealKey = config.secret_shares === 1 ? shares[0]! : await combineShares(shares);
      await this.#barrier.unseal(unsealKey);
    } catch (error) {
      this.#logger.warn("unseal attempt failed", { reason: (error as Error).name });
      throw new LogicalError(400, "failed to unseal: the combined key shares do not open the barrier (wrong or mismatched keys)");
    }
    await this.#postUnseal();
  }

  resetUnseal(): void {
    this.#unsealShares = [];
    this.#unsealNonce = "";
  }

  async #postUnseal(): Promise<void> {
    this.#unsealed = await this.#loadUnsealedState();
    this.#logger.info("vault is unsealed");
    if (this.#ha) this.#startElection(this.#ha);
  }

  async #loadUnsealedState(): Promise<Unsealed> {
    const tokens = await TokenStore.open(storageView(this.#barrier, "sys/token/"), this.#now);
    const mounts = await MountTable.load(this.#barrier);
    const policies = await PolicyStore.open(this.#barrier);
    const auths = await AuthTable.load(this.#barrier);
    return { tokens, mounts, policies, auths };
  }

  #startElection(ha: HAOptions): void {
    const lockValue = JSON.stringify({ id: ha.nodeId, api_addr: ha.apiAddr });
    this.#election = new Election(ha.backend.lockWith(LOCK_KEY, lockValue), {
      becomeActive: (hold) => this.#becomeActive(ha, hold),
      becomeStandby: (reason) => this.#becomeStandby(ha, reason),
    }, this.#logger.named("ha"));
    this.#logger.info("entering standby mode");
    this.#election.start();
  }

  async #becomeActive(ha: HAOptions, hold: LockHold): Promise<void> {
    // Same store for data and lock: make every write of this term conditional on our epoch.
    // Otherwise check the hold before each write. Either way a handler that outlives the term cannot write.
    this.#barrierStorage.target = isFenceable(this.#physical) && (this.#physical as unknown) === ha.backend
      ? this.#physical.fencedBy(LOCK_KEY, hold.epoch)
      : writableWhileHeld(this.#physical, hold);
    // The previous active may have changed mounts and tokens: start from what storage says.
    const state = await this.#loadUnsealedState();
    const identity = await generateClusterIdentity(ha.identityValidityMs ?? DEFAULT_IDENTITY_VALIDITY_MS, new Date(this.#now()));
    const advertisement: Advertisement = {
      node_id: ha.nodeId,
      api_addr: ha.apiAddr,
      cluster_addr: ha.clusterAddr,
      cluster_cert: identity.certificatePem,
      cluster_key: identity.privateKeyPem,
      epoch: hold.epoch,
      active_time: rfc3339(new Date(this.#now())),
    };
    await writeAdvertisement(this.#barrier, advertisement);
    if (this.sealed) throw new Error("sealed while becoming active");
    this.#unsealed = state;
    this.#heartbeats.clear();
    this.#advertisement = advertisement;
    this.forgetLeader();
    this.#logger.info("acquired lock, enabling active operation", { epoch: hold.epoch });
    ha.onActive?.(advertisement);
  }

  #becomeStandby(ha: HAOptions, reason: string): void {
    this.#advertisement = null;
    this.forgetLeader();
    // The term's storage view stays: handlers still running from the term must not write unfenced.
    this.#logger.warn("stopped active operation, entering standby mode", { reason });
    ha.onStandby?.();
  }

  /** Where the active node is, as this node sees it (standbys read the lock record and the advertisement). */
  async leader(): Promise<LeaderView> {
    const ha = this.#ha;
    if (!ha || this.sealed) return { isSelf: false, advertisement: null };
    if (this.isActive()) return { isSelf: true, advertisement: this.#advertisement };
    const seen = this.#seenLeader;
    if (seen && this.#now() - seen.readAt < LEADER_CACHE_MS) return { isSelf: false, advertisement: seen.advertisement };
    const holder = await ha.backend.currentHolder(LOCK_KEY);
    if (!holder) return { isSelf: false, advertisement: null };
    const { id } = JSON.parse(holder.value) as { id: string };
    let advertisement = seen && seen.advertisement.node_id === id && seen.advertisement.epoch === holder.epoch
      ? seen.advertisement
      : await readAdvertisement(this.#barrier, id);
    // An advertisement from an older term of the same node is not the current active's.
    if (advertisement && advertisement.epoch !== holder.epoch) advertisement = null;
    // Remember only a found leader: a new active's advertisement appears moments after its lock.
    if (advertisement) this.#seenLeader = { advertisement, readAt: this.#now() };
    return { isSelf: false, advertisement };
  }

  /** Records a standby's heartbeat (the adapter calls this for the cluster channel only). */
  recordHeartbeat(heartbeat: Heartbeat): void {
    if (!this.isActive()) throw new StandbyError();
    this.#heartbeats.set(heartbeat.node_id, { ...heartbeat, at: this.#now() });
  }

  /** sys/ha-status, answered by the active node: itself and every standby heard from recently. */
  #haNodes(): Record<string, unknown>[] {
    const ha = this.#ha;
    if (!ha) return [];
    const now = this.#now();
    const standbys = [...this.#heartbeats.values()]
      .filter((h) => now - h.at < HEARTBEAT_EXPIRY_MS)
      .map(({ at, node_id: _, ...h }) => ({
        ...h,
        active_node: false,
        last_echo: rfc3339(new Date(at)),
        upgrade_version: h.version,
        redundancy_zone: "",
      }));
    return [{
      hostname: ha.hostname,
      api_address: ha.apiAddr,
      cluster_address: ha.clusterAddr,
      active_node: true,
      last_echo: null,
      version: VERSION,
      upgrade_version: VERSION,
      redundancy_zone: "",
    }, ...standbys];
  }

  /** Drops the cached view of the active, so the next `leader()` reads storage. */
  forgetLeader(): void {
    if (this.#seenLeader) this.#seenLeader.readAt = Number.NEGATIVE_INFINITY;
  }

  /** Gives up active duty and stays out of the election for the cool-down. */
  async stepDown(): Promise<void> {
    if (!this.#ha || !this.#election) return;
    this.#logger.info("stepping down from active duty");
    await this.#election.stepDown(this.#ha.stepDownCooldownMs);
  }

  async seal(): Promise<void> {
    if (this.sealed) return;
    // Release the lock before sealing, so a standby takes over at once.
    const election = this.#election;
    this.#election = null;
    await election?.stop();
    this.#unsealed = null;
    this.#barrier.seal();
    this.resetUnseal();
    this.#logger.info("vault is sealed");
  }

  #state(): Unsealed {
    if (!this.#unsealed) throw new LogicalError(503, "Vault is sealed");
    return this.#unsealed;
  }

  /** Mounts a secrets engine (used by dev mode; the API goes through `handle`). */
  async enableMount(path: string, data: Record<string, unknown>): Promise<void> {
    await this.#state().mounts.enable(path, data);
  }

  /**
   * Serves a request: a login goes straight to its auth method; anything else needs a live token
   * whose policies (their union, by Vault's ACL rules) allow the request.
   */
  async handle(rawRequest: CoreRequest): Promise<HandlerResult> {
    const state = this.#state();
    if (!this.isActive()) throw new StandbyError();
    const request = { ...rawRequest, path: canonicalRequestPath(state.auths, rawRequest.path) };
    const login = loginRoute(state, request.path);
    if (login) return this.#login(state, login, request);
    if (!request.token) throw permissionDenied();
    const caller = await state.tokens.lookup(request.token);
    if (!caller) throw invalidToken();
    // Non-expiring tokens (root) are exempt from address binding, as in Vault.
    if (caller.bound_cidrs && caller.expire_time !== null && !addressInBlocks(request.clientAddress, parseCidrList(caller.bound_cidrs, "bound_cidrs"))) {
      throw permissionDenied();
    }
    // The use counts even when the request is then denied; the last use revokes the token afterwards.
    const exhausted = await state.tokens.use(caller);
    try {
      const acl = await state.policies.acl(caller.policies);
      await this.#authorise(state, acl, request);
      return await this.#dispatch(state, request, caller, acl);
    } finally {
      if (exhausted) await state.tokens.revoke(caller);
    }
  }

  async #login(state: Unsealed, { mounted, relative }: { mounted: MountedAuth; relative: string }, request: CoreRequest): Promise<HandlerResult> {
    const { operation, data, clientAddress } = request;
    if (operation !== "update" && operation !== "create") throw unsupported(request.path, operation);
    const grant = await mounted.method.login({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry, now: this.#now(), clientAddress });
    return issueLoginToken(state.tokens, mounted.entry, relative, grant);
  }

  async #authorise({ mounts, auths }: Unsealed, acl: Acl, request: CoreRequest): Promise<void> {
    const { path, operation, data } = request;
    if (path.startsWith(UI_MOUNTS_PREFIX)) {
      // Any token may ask which mount serves a path, but only about a mount it has some access under.
      const route = mounts.route(path.slice(UI_MOUNTS_PREFIX.length));
      if (route && !acl.hasAccessUnder(route.mounted.entry.path)) throw permissionDenied();
      return;
    }
    const exists = async (): Promise<boolean | null> => {
      if (path.startsWith("auth/")) {
        const route = auths.route(path.slice("auth/".length));
        if (!route) return null;
        const { mounted, relative } = route;
        return mounted.method.exists({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry, now: this.#now() });
      }
      const route = path.startsWith("sys/") ? null : mounts.route(path);
      if (!route) return null;
      const { mounted, relative } = route;
      return (await mounted.engine.exists?.({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry })) ?? null;
    };
    await authorise(acl, { path, operation, exists });
  }

  async #dispatch(state: Unsealed, request: CoreRequest, caller: CallerToken, acl: Acl): Promise<HandlerResult> {
    const { tokens, mounts, policies, auths } = state;
    const { path, operation, data } = request;
    if (path.startsWith("auth/token/")) {
      return handleTokenRequest(tokens, { ...request, path: path.slice("auth/token/".length) }, caller, acl.hasSudo(path));
    }
    if (path.startsWith("auth/")) {
      const route = auths.route(path.slice("auth/".length));
      if (!route) throw noHandler(path);
      const { mounted, relative } = route;
      return mounted.method.handle({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry, now: this.#now(), clientAddress: request.clientAddress });
    }
    if (isPolicyPath(path)) return handlePolicyRequest(policies, tokens, request);
    if (isSysAuthPath(path)) return handleSysAuth(auths, tokens, request);
    if (path === "sys/seal" || path === "sys/step-down") {
      if (operation !== "update" && operation !== "create") throw unsupported(path, operation);
      await (path === "sys/seal" ? this.seal() : this.stepDown());
      return null;
    }
    if (path === "sys/ha-status") {
      if (operation !== "read") throw unsupported(path, operation);
      return { data: { nodes: this.#haNodes() } };
    }
    if (path === "sys/mounts" || path.startsWith("sys/mounts/")) return this.#handleMounts(mounts, path.slice("sys/mounts".length).replace(/^\//, ""), operation, data);
    if (path.startsWith(UI_MOUNTS_PREFIX)) return this.#mountInfo(mounts, path.slice(UI_MOUNTS_PREFIX.length));
    if (path.startsWith("sys/")) throw noHandler(path);
    const route = mounts.route(path);
    if (!route) throw noHandler(path);
    const { mounted, relative } = route;
    const result = await mounted.engine.handle({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry });
    return result && { ...result, mount_type: mounted.entry.type };
  }

  async #handleMounts(mounts: MountTable, mountPath: string, operation: Operation, data: Record<string, unknown>): Promise<HandlerResult> {
    if (!mountPath) {
      if (operation !== "read") throw unsupported("sys/mounts", operation);
      const table: Record<string, unknown> = { "sys/": systemMountDescription() };
      for (const entry of mounts.entries()) table[entry.path] = describeMount(entry);
      return { data: table };
    }
    if (mountPath.endsWith("/tune")) {
      const target = mountPath.slice(0, -"/tune".length);
      if (operation === "read") {
        const { entry } = mounts.find(target);
        return { data: tuneDescription(entry) };
      }
      await mounts.tune(target, data);
      return null;
    }
    switch (operation) {
      case "create":
      case "update":
        await mounts.enable(mountPath, data);
        return null;
      case "delete":
        await mounts.disable(mountPath);
        return null;
      case "read":
        return { data: describeMount(mounts.find(mountPath).entry) };
      default:
        throw unsupported(`sys/mounts/${mountPath}`, operation);
    }
  }

  /** What Vault's CLI asks to learn a path's mount and KV version. */
  #mountInfo(mounts: MountTable, path: string): HandlerResult {
    const route = mounts.route(path);
    if (!route) throw new LogicalError(400, `preflight capability check returned 403, please ensure client's policies grant access to path "${path}/"`);
    const { entry } = route.mounted;
    return { data: { ...describeMount(entry), path: entry.path } };
  }
}

const UI_MOUNTS_PREFIX = "sys/internal/ui/mounts/";

/** The auth method and path of a login request (e.g. auth/userpass/login/alice), or null. */
function loginRoute({ auths }: Unsealed, path: string): { mounted: MountedAuth; relative: string } | null {
  if (!path.startsWith("auth/") || path.startsWith("auth/token/")) return null;
  const route = auths.route(path.slice("auth/".length));
  return route && route.mounted.method.isLoginPath(route.relative) ? route : null;
}

function tuneDescription(entry: MountEntry): Record<string, unknown> {
  return { ...entry.config, description: entry.description, force_no_cache: false, options: entry.options };
}

function systemMountDescription(): Record<string, unknown> {
  return {
    accessor: "system",
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
    description: "system endpoints used for control, policy and debugging",
    local: false,
    options: null,
    seal_wrap: true,
    type: "system",
  };
}

function noHandler(path: string): LogicalError {
  return new LogicalError(404, `no handler for route "${path}". route entry not found.`);
}

export function unsupported(path: string, operation: Operation): LogicalError {
  return new LogicalError(405, `unsupported operation "${operation}" on path "${path}"`);
}
