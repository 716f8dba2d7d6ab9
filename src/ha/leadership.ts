import type { Logger } from "../sdk/logger.js";
import { rfc3339 } from "../sdk/encoding.js";
import type { LogicalOptions } from "../logical/state.js";
import type { NodeState } from "../audit/node-state.js";
import type { CoreRequest, HandlerResult, Storage } from "../sdk/types.js";
import type { Backend } from "../physical/backend.js";
import type { CacheLimits } from "../sdk/lru.js";
import { type HABackend, isFenceable, type LockHold } from "../physical/ha.js";
import { VERSION } from "../sdk/version.js";
import type { BoundAddresses } from "./addresses.js";
import { type Advertisement, newAdvertisement, readAdvertisement, removeStaleAdvertisements, writeAdvertisement } from "./advertisement.js";
import { Election } from "./election.js";
import type { AuditBroker } from "../audit/broker.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Forwarder, ForwardingCounters, Heartbeat } from "./forwarding.js";
import { generateClusterIdentity } from "./identity.js";
import { currentStandbyState, StandbyReads, type StandbyRouterFactory } from "./standby-reads.js";
import { encodeLockValue, LOCK_KEY, parseLockValue } from "./lock-value.js";
import { WriteGeneration } from "./standby-generation.js";
import { ReadLease } from "./read-lease.js";
import { type Grantable, type LeaseChannelEnd, ReadLeaseGrants } from "./read-lease-grants.js";
import { type SwitchableBackend, writableWhileHeld } from "./switchable-backend.js";
import { StandbyError } from "./standby-error.js";
import { termRenewalRecorder } from "./renewal-metrics.js";
import { ActiveWaiters } from "./active-waiters.js";

export interface HAOptions {
  backend: HABackend;
  /** Random per process: a restarted node is a new member. */
  nodeId: string;
  /** Reported in sys/ha-status. */
  hostname: string;
  /** Filled by the adapter once its listeners are bound; the node contends only after that. */
  addresses: BoundAddresses;
  /** The cluster channel to the active node; absent when clustering is disabled (standbys redirect). */
  forwarder?: Forwarder;
  /** Lifetime of each active term's cluster certificate. */
  identityValidityMs?: number;
  /**
   * Told when this node starts or stops serving as active (the adapter runs cluster listeners). A
   * new term's is awaited before the advertisement is written: a standby that reads it finds the
   * cluster listener up rather than refusing connections.
   */
  onActive?(advertisement: Advertisement): void | Promise<void>;
  onStandby?(): void;
  /** `standby_reads`: as a standby, answer read-only requests from storage instead of forwarding them. */
  standbyReads?: boolean;
  /** Lock acquisitions, losses and takeover times are recorded here (and standby reads' requests). */
  metrics?: Metrics;
  /** Where reads a standby answers itself are audited (the active audits what it serves). */
  audit?: AuditBroker;
}

/** What a node knows of the active node. */
export interface LeaderView {
  isSelf: boolean;
  advertisement: Advertisement | null;
}

/** What leadership needs from the node it runs in. */
export interface LeadershipHost {
  physical: Backend;
  /** The barrier's storage, pointed at a fenced view for each active term. */
  barrierStorage: SwitchableBackend;
  /** Encrypted storage: the advertisement lives there (and standby reads come from there). */
  barrier: Storage;
  /** Reloads the node's state from storage (the previous active may have changed it). */
  prepareActive(hold: LockHold): Promise<void>;
  sealed(): boolean;
  logger: Logger;
  /** How the node's logical state is opened (clock, lease TTLs); standby reads open it per request. */
  logical: LogicalOptions;
  /** The routers standby reads run through (audited and measured as the node's own requests). */
  standbyRouter: StandbyRouterFactory;
  /** Bounds of what standby reads keep while the active's write generation holds; null: `disable_cache`. */
  cacheLimits: CacheLimits | null;
}

const DEFAULT_IDENTITY_VALIDITY_MS = 7 * 24 * 3600 * 1000;
/** How long a standby trusts its last look at the lock record before reading it again. */
const LEADER_CACHE_MS = 250;
const HEARTBEAT_INTERVAL_MS = 1_000;
/** setTimeout's longest delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Standbys silent for longer than this drop out of sys/ha-status. */
const HEARTBEAT_EXPIRY_MS = 30_000;

/**
 * The node's role while unsealed with HA: contends for the lock, becomes active (advertisement,
 * fenced storage) or standby, tells standbys where the active is, and keeps the heartbeats that
 * sys/ha-status reports. Runs from unseal to seal.
 */
export class Leadership {
  readonly forwarding: ForwardingCounters = { forwarded: 0, fallbacks: 0, held: 0, heldMs: 0, holding: 0 };
  readonly #ha: HAOptions;
  readonly #host: LeadershipHost;
  readonly #logger: Logger;
  readonly #reads: StandbyReads | null;
  #election: Election | null = null;
  #starting: Promise<void> = Promise.resolve();
  #stopped = true;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #renewalTimer: ReturnType<typeof setTimeout> | undefined;
  #advertisement: Advertisement | null = null;
  /** Stepping down or stopping: still holding the lock while the requests inside finish, taking no new ones. */
  #handingOver: Promise<void> | null = null;
  readonly #heartbeats = new Map<string, Heartbeat & { at: number }>();
  /**
   * The active's advertisement as a standby last read it, and when: trusted as is for
   * LEADER_CACHE_MS, then reused without a storage read while the lock's holder and epoch match.
   */
  #seenLeader: { advertisement: Advertisement; readAt: number } | null = null;
  /** As a standby with standby reads: our lease on the active's write generation (read-lease.ts). */
  readonly #lease: ReadLease | null;
  /** As the active: the leases standbys hold on our write generation (read-lease-grants.ts). */
  readonly #grants = new ReadLeaseGrants(() => this.#grantable());
  /** While active: this term's count of writes (standby-generation.ts). */
  #writeGeneration: WriteGeneration | null = null;
  /** Requests held here for want of an active, woken the moment this node becomes it. */
  readonly #waitingForActive = new ActiveWaiters();

  constructor(ha: HAOptions, host: LeadershipHost) {
    this.#ha = ha;
    this.#host = host;
    this.#logger = host.logger.named("ha");
    const forwarder = ha.forwarder;
    this.#lease =
      ha.standbyReads && forwarder
        ? new ReadLease(async (receive, closed) => {
            const { advertisement } = await this.leader();
            // Stopped meanwhile (sealing, shutting down): a channel opened now could outlive the
            // forwarder's close and keep the process from exiting.
            if (this.#stopped) throw new Error("stopped: no read lease");
            if (!advertisement || this.isActive()) throw new Error("no active node to lease from");
            return forwarder.readLease(advertisement, receive, closed);
          })
        : null;
    const generation = async () => (this.#lease && !this.#stopped && !this.isActive() ? this.#lease.generation() : null);
    this.#reads = ha.standbyReads ? new StandbyReads(generation, host.barrier, host.logical, host.standbyRouter, host.cacheLimits) : null;
  }

  /** With `standby_reads`, the answer to a read this standby gives itself; undefined: route it to the active. */
  async standbyRead(request: CoreRequest): Promise<HandlerResult | undefined> {
    if (!this.#reads || this.#stopped || this.#host.sealed() || this.isActive()) return undefined;
    return this.#reads.serve(request);
  }

  /**
   * Whether this standby would try a write with a body itself (an endpoint declared to write
   * nothing, such as transit's `verify`), so the body is worth parsing here rather than passing on.
   */
  async standbyAnswersWrite(request: Pick<CoreRequest, "operation" | "path">): Promise<boolean> {
    if (!this.#reads || this.#stopped || this.#host.sealed() || this.isActive()) return false;
    return this.#reads.answersWrite(request);
  }

  /** Whether this node, as a standby, answers reads itself (`standby_reads`: a performance standby). */
  get servesReads(): boolean {
    return this.#reads !== null;
  }

  /** As a standby: the state its own sys/metrics is authorised from (standby-reads.ts). */
  standbyState(): Promise<NodeState> {
    return currentStandbyState(this.#reads, this.#host.barrier, this.#host.logical);
  }

  get forwarder(): Forwarder | undefined {
    return this.#ha.forwarder;
  }

  /** Serving as active now: certainly still holding the lock, advertisement written. */
  isActive(): boolean {
    return this.#handingOver === null && (this.#election?.hold ?? null) !== null && this.#advertisement !== null;
  }

  /** Starts contending (once the node's addresses are bound) and, as a standby, sending heartbeats. */
  start(): void {
    const ha = this.#ha;
    this.#stopped = false;
    this.#starting = ha.addresses.ready.then(({ apiAddr }) => {
      if (this.#stopped) return;
      const election = new Election(
        ha.backend.lockWith(LOCK_KEY, encodeLockValue(ha.nodeId, apiAddr)),
        {
          becomeActive: (hold) => this.#becomeActive(hold),
          active: () => this.#waitingForActive.wake(),
          becomeStandby: (reason) => this.#becomeStandby(reason),
        },
        {
          leaseMs: ha.backend.leaseMs,
          lockFree: async () => (await ha.backend.currentHolder(LOCK_KEY)) === null,
        },
        this.#logger,
      );
      this.#election = election;
      this.#logger.info("entering standby mode");
      election.start();
      if (ha.forwarder) this.#heartbeatTimer = setInterval(() => void this.#sendHeartbeat(), HEARTBEAT_INTERVAL_MS);
    });
  }

  /**
   * Stops contending and releases the lock, so a standby takes over at once; an active first lets
   * the requests inside it finish (`settled`), taking no new ones meanwhile.
   */
  async stop(settled: () => Promise<void> = async () => {}): Promise<void> {
    this.#stopped = true;
    this.#forgetReads();
    await this.#starting;
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#renewalTimer);
    await this.#handOver(settled, async () => {
      const election = this.#election;
      this.#election = null;
      await election?.stop();
    });
  }

  /**
   * Gives up active duty, after the requests inside have finished (`settled`), and stays out of
   * the election for the store's step-down cool-down.
   */
  async stepDown(settled: () => Promise<void>): Promise<void> {
    const election = this.#election;
    if (!election) return;
    this.#logger.info("stepping down from active duty");
    await this.#handOver(settled, () => election.stepDown(this.#ha.backend.stepDownCooldownMs));
  }

  /**
   * New requests see a standby at once (held, then forwarded to the next active); the lock is
   * kept until the ones already inside have finished, so fencing cuts none of them off.
   */
  async #handOver(settled: () => Promise<void>, release: () => Promise<void>): Promise<void> {
    // One at a time: a second step-down (or a SIGTERM during one) must not release before the drain ends.
    while (this.#handingOver) await this.#handingOver.catch(() => {});
    const wasActive = this.isActive();
    const handingOver = (async () => {
      if (wasActive) await settled();
      // The next active may write as soon as we release: no standby may still read under our lease.
      await this.#grants.revokeAll();
      await release();
    })();
    this.#handingOver = handingOver;
    try {
      await handingOver;
    } finally {
      if (this.#handingOver === handingOver) this.#handingOver = null;
    }
  }

  async #becomeActive(hold: LockHold): Promise<void> {
    const heldAt = this.#host.logical.now();
    const { physical, barrierStorage, barrier } = this.#host;
    const ha = this.#ha;
    if (ha.metrics) hold.onRenewed?.(termRenewalRecorder(ha.metrics));
    // Same store for data and lock: make every write of this term conditional on our epoch.
    // Otherwise check the hold before each write. Either way a handler that outlives the term cannot write.
    const termStorage =
      isFenceable(physical) && (physical as unknown) === ha.backend ? physical.fencedBy(LOCK_KEY, hold.epoch) : writableWhileHeld(physical, hold);
    this.#forgetReads();
    // Counted whatever our own standby_reads says: standbys with it keep what they read by this count.
    const generation = new WriteGeneration(hold.epoch);
    barrierStorage.target = generation.counting(termStorage, (written) => this.#grants.written(written));
    this.#writeGeneration = generation;
    // The certificate and cluster listener need none of the reloaded state: ready them meanwhile. Both
    // settle before anything is thrown, so a failed activation leaves no listener starting behind it.
    const [announcing, preparing] = await Promise.allSettled([this.#startClusterListener(hold.epoch), this.#host.prepareActive(hold)]);
    for (const settled of [preparing, announcing]) if (settled.status === "rejected") throw settled.reason;
    const advertisement = (announcing as PromiseFulfilledResult<Advertisement>).value;
    await writeAdvertisement(barrier, advertisement);
    if (this.#host.sealed()) throw new Error("sealed while becoming active");
    this.#heartbeats.clear();
    this.#advertisement = advertisement;
    this.forgetLeader();
    // Earlier terms' entries only need to go, not to go first: standbys read the current holder's.
    removeStaleAdvertisements(barrier, ha.nodeId).catch((error) => this.#logger.warn("could not remove stale advertisements", { error: String(error) }));
    // Forwards still waiting on the previous active (paused, cut off) fail now and are routed again.
    ha.forwarder?.close();
    this.#logger.info("acquired lock, enabling active operation", { epoch: hold.epoch });
    ha.metrics?.increment("strongbox_ha_lock_acquisitions_total");
    ha.metrics?.setGauge("strongbox_ha_last_takeover_ms", this.#host.logical.now() - heldAt);
    this.#scheduleIdentityRenewal(advertisement);
  }

  /** This term's advertisement (a fresh cluster identity), with the cluster listener up for its certificate. */
  async #startClusterListener(epoch: number): Promise<Advertisement> {
    const { nodeId, addresses, identityValidityMs = DEFAULT_IDENTITY_VALIDITY_MS } = this.#ha;
    const advertisement = await newAdvertisement(nodeId, addresses.current, epoch, identityValidityMs, new Date(this.#host.logical.now()));
    await this.#ha.onActive?.(advertisement);
    return advertisement;
  }

  /** A term can outlast its certificate: re-issue and re-advertise at two thirds of its lifetime. */
  #scheduleIdentityRenewal(advertisement: Advertisement): void {
    clearTimeout(this.#renewalTimer);
    const validityMs = this.#ha.identityValidityMs ?? DEFAULT_IDENTITY_VALIDITY_MS;
    this.#renewalTimer = setTimeout(
      () => {
        void this.#renewIdentity(advertisement).catch((error) => {
          // Standbys fall back to redirects once the old certificate expires; try again soon.
          this.#logger.error("could not renew the cluster certificate", { error: String(error) });
          if (this.#advertisement === advertisement) this.#scheduleIdentityRenewal(advertisement);
        });
      },
      Math.min(Math.floor((validityMs * 2) / 3), MAX_TIMER_MS),
    );
  }

  async #renewIdentity(current: Advertisement): Promise<void> {
    if (this.#advertisement !== current || !this.isActive()) return;
    const identity = await generateClusterIdentity(this.#ha.identityValidityMs ?? DEFAULT_IDENTITY_VALIDITY_MS, new Date(this.#host.logical.now()));
    const renewed: Advertisement = { ...current, cluster_cert: identity.certificatePem, cluster_key: identity.privateKeyPem };
    await writeAdvertisement(this.#host.barrier, renewed);
    // The term may have ended while we wrote: then the next active advertises itself.
    if (this.#advertisement !== current || !this.isActive()) return;
    this.#advertisement = renewed;
    this.#logger.info("renewed the cluster certificate", { epoch: renewed.epoch, not_after: identity.notAfter.toISOString() });
    void this.#ha.onActive?.(renewed);
    this.#scheduleIdentityRenewal(renewed);
  }

  #becomeStandby(reason: string): void {
    clearTimeout(this.#renewalTimer);
    this.#advertisement = null;
    this.forgetLeader();
    // The term's storage view stays: handlers still running from the term must not write unfenced.
    this.#logger.warn("stopped active operation, entering standby mode", { reason });
    this.#ha.metrics?.increment("strongbox_ha_lock_losses_total");
    this.#ha.onStandby?.();
  }

  /** Where the active node is, as this node sees it (standbys read the lock record and the advertisement). */
  async leader(): Promise<LeaderView> {
    if (this.isActive()) return { isSelf: true, advertisement: this.#advertisement };
    const now = this.#host.logical.now();
    const seen = this.#seenLeader;
    if (seen && now - seen.readAt < LEADER_CACHE_MS) return { isSelf: false, advertisement: seen.advertisement };
    const holder = await this.#ha.backend.currentHolder(LOCK_KEY);
    const id = holder && parseLockValue(holder.value)?.id;
    // Our own lock while not serving: handing over, or still becoming active. Either way the
    // active to forward to is not known yet (forwarding to ourselves would loop).
    if (!holder || !id || id === this.#ha.nodeId) return { isSelf: false, advertisement: null };
    let advertisement =
      seen && seen.advertisement.node_id === id && seen.advertisement.epoch === holder.epoch
        ? seen.advertisement
        : await readAdvertisement(this.#host.barrier, id);
    // An advertisement from an older term of the same node is not the current active's.
    if (advertisement && advertisement.epoch !== holder.epoch) advertisement = null;
    // Remember only a found leader: a new active's advertisement appears moments after its lock.
    if (advertisement) this.#seenLeader = { advertisement, readAt: now };
    return { isSelf: false, advertisement };
  }

  /** The active's side of a standby's read-lease channel (read-lease-grants.ts). */
  openReadLease(send: (line: string) => void): LeaseChannelEnd {
    return this.#grants.open(send);
  }

  /** What we can vouch for to standbys: only while certainly active, and for no longer than that. */
  #grantable(): Grantable | null {
    const hold = this.#election?.hold;
    if (!this.isActive() || !hold || !this.#writeGeneration) return null;
    return { generation: this.#writeGeneration.current(), certainForMs: hold.certainForMs() };
  }

  /** Drops what standby reads kept (decrypted entries) and our lease: sealing, stopping, becoming active. */
  #forgetReads(): void {
    this.#reads?.forget();
    this.#lease?.release();
  }

  /** Calls `listener` once, when this node next becomes active (a held request is served at once); returns a function that stops waiting. */
  onceActive(listener: () => void): () => void {
    return this.#waitingForActive.add(listener);
  }

  /** Drops the cached view of the active, so the next `leader()` reads the lock and the advertisement again. */
  forgetLeader(): void {
    this.#seenLeader = null;
  }

  /** Records a standby's heartbeat (the adapter calls this for the cluster channel only). */
  recordHeartbeat(heartbeat: Heartbeat): void {
    if (!this.isActive()) throw new StandbyError();
    this.#heartbeats.set(heartbeat.node_id, { ...heartbeat, at: this.#host.logical.now() });
  }

  /** How long ago each standby heard from recently last sent a heartbeat (the active's view). */
  heartbeatAges(): { nodeId: string; hostname: string; ageMs: number }[] {
    const now = this.#host.logical.now();
    return [...this.#heartbeats.values()]
      .filter((h) => now - h.at < HEARTBEAT_EXPIRY_MS)
      .map((h) => ({ nodeId: h.node_id, hostname: h.hostname, ageMs: now - h.at }));
  }

  /** sys/ha-status, answered by the active node: itself and every standby heard from recently. */
  status(): Record<string, unknown>[] {
    const now = this.#host.logical.now();
    const { apiAddr, clusterAddr } = this.#ha.addresses.current;
    const standbys = [...this.#heartbeats.values()]
      .filter((h) => now - h.at < HEARTBEAT_EXPIRY_MS)
      .map(({ at, node_id: _, ...h }) => ({
        ...h,
        active_node: false,
        last_echo: rfc3339(new Date(at)),
        upgrade_version: h.version,
        redundancy_zone: "",
      }));
    return [
      {
        hostname: this.#ha.hostname,
        api_address: apiAddr,
        cluster_address: clusterAddr,
        active_node: true,
        last_echo: null,
        version: VERSION,
        upgrade_version: VERSION,
        redundancy_zone: "",
      },
      ...standbys,
    ];
  }

  /** A standby's heartbeat to the active node, when it knows one. */
  async #sendHeartbeat(): Promise<void> {
    const forwarder = this.#ha.forwarder;
    if (!forwarder || this.isActive() || this.#host.sealed()) return;
    try {
      const { advertisement } = await this.leader();
      if (!advertisement) return;
      const { apiAddr, clusterAddr } = this.#ha.addresses.current;
      await forwarder.heartbeat(advertisement, {
        node_id: this.#ha.nodeId,
        hostname: this.#ha.hostname,
        api_address: apiAddr,
        cluster_address: clusterAddr,
        version: VERSION,
        forwarded_requests: this.forwarding.forwarded,
        forwarding_fallbacks: this.forwarding.fallbacks,
        performance_standby: this.servesReads,
      });
    } catch (error) {
      // The active may have changed, or re-issued its certificate: look again next time.
      this.forgetLeader();
      this.#logger.debug("heartbeat to the active node failed", { error: String(error) });
    }
  }
}
