/**
 * Standby reads (`standby_reads`, on by default): a standby answers read-only requests itself, from storage
 * through the barrier, with the same router and ACL as the active; everything else is forwarded.
 *
 * Why no answer is stale: the storage backends are strongly consistent (DynamoDB reads with
 * ConsistentRead, S3 has read-after-write consistency), and what a standby read from storage before
 * (mount and auth tables, policies, tokens, secrets) is reused only while the active's write
 * generation it knows through its read lease stays the same (read-lease.ts: the active acknowledges
 * no write before a standby holding a lease has heard of it). So a read that begins after a write
 * was acknowledged, through any node, sees that write; a policy tightened on the active applies to
 * the next standby read. Without a lease, or with `disable_cache`, the read uses nothing kept from
 * earlier requests.
 *
 * Why nothing is written twice or by two nodes: the standby's storage view refuses writes. A
 * request that turns out to need one (a token with a use limit, an expired token to revoke, a
 * default entry missing) stops before anything is written and is forwarded, so the active does
 * all of it once.
 */
import type { LogicalOptions } from "../logical/state.js";
import { loadNodeState, type NodeState } from "../audit/node-state.js";
import { type CoreRequest, type HandlerResult, LogicalError, type Storage } from "../sdk/types.js";
import { aroundWrites, type Backend } from "../physical/backend.js";
import { CachedBackend } from "../physical/cache.js";
import { monotonicClock } from "../physical/ha.js";
import type { CacheLimits } from "../sdk/lru.js";

/**
 * How long the router of an earlier view may still say which requests go to the active: a mount
 * enabled since is then answered here at most this much later (until then forwarded, always right).
 */
const ROUTE_HINT_MS = 1_000;

/** Answers requests; for standby reads, one per view, over the view's state. */
export interface RequestHandler {
  handle(request: CoreRequest): Promise<HandlerResult>;
  /** Whether the endpoint serving `request` lets a standby answer it (its declaration says). */
  standbyMayAnswer(request: Pick<CoreRequest, "operation" | "path">): boolean;
}

/**
 * Builds the router a standby read runs through (request/ provides it: it sits above ha/), over
 * `state`, with node-level operations answered by `refuse`.
 */
export type StandbyRouterFactory = (state: NodeState, refuse: () => Promise<never>) => RequestHandler;

/**
 * Thrown by the standby's storage view on any write: a read goes to the active instead; the
 * standby's own sys/metrics, which cannot, is refused (e.g. a token that expired needs revoking).
 */
class WriteOnStandby extends LogicalError {
  override name = "WriteOnStandby";
  constructor() {
    super(403, "permission denied");
  }
}

/** What a standby read uses: storage and the logical state loaded from it, for one generation. */
interface ReadView {
  generation: string | null;
  storage: Storage;
  state: Promise<NodeState> | null;
  /** Built once the state is loaded, for the view's lifetime. */
  router: RequestHandler | null;
}

export class StandbyReads {
  readonly #storage: Backend;
  /** The active's storage read cache, with one write generation as its validity rule; null with `disable_cache`. */
  readonly #cache: CachedBackend | null;
  /** The view of the newest generation seen; reused by reads that see the same one. */
  #current: ReadView | null = null;
  /** The router last built and when: tells, without a lease or a state load, what goes to the active. */
  #routeHint: { router: RequestHandler; builtAt: number } | null = null;

  constructor(
    /** The active's write generation while this standby's read lease runs; null when it holds none. */
    private readonly generation: () => Promise<string | null>,
    barrier: Storage,
    private readonly logical: LogicalOptions,
    /** Routers with the node's audit devices and metrics: a read answered here is audited here. */
    private readonly routerFor: StandbyRouterFactory,
    /** Bounds of what the cache keeps (the node's `cache_size`); null: keep nothing (`disable_cache`). */
    cacheLimits: CacheLimits | null,
  ) {
    this.#storage = readOnly(barrier);
    this.#cache = cacheLimits ? new CachedBackend(this.#storage, cacheLimits) : null;
  }

  /** The answer, or undefined when the request must go to the active (it needs a write). */
  async serve(request: CoreRequest): Promise<HandlerResult | undefined> {
    // Reads always ask the current view, so a mount enabled on the active is read here at once.
    const isRead = request.operation === "read" || request.operation === "list";
    if (!isRead && this.#hint()?.standbyMayAnswer(request) === false) return undefined;
    try {
      const router = await this.#router();
      // Decided before any work: an endpoint a standby may not answer goes to the active.
      if (!router.standbyMayAnswer(request)) return undefined;
      return await router.handle(request);
    } catch (error) {
      if (error instanceof WriteOnStandby) return undefined;
      throw error;
    }
  }

  /** Whether `request`, a write, is one the endpoint serving it lets a standby answer. */
  async answersWrite(request: Pick<CoreRequest, "operation" | "path">): Promise<boolean> {
    if (request.operation !== "update") return false;
    return (this.#hint() ?? (await this.#router())).standbyMayAnswer(request);
  }

  /**
   * A recent router, to send on what the standby may not answer without asking for a lease and
   * loading the state of a new generation (each forwarded write makes one). Its yes is checked
   * again by the current view's router before anything is answered; its no forwards, always right.
   */
  #hint(): RequestHandler | null {
    const hint = this.#routeHint;
    return hint && monotonicClock.now() - hint.builtAt < ROUTE_HINT_MS ? hint.router : null;
  }

  async #router(): Promise<RequestHandler> {
    const view = await this.#view();
    const state = await this.#stateOf(view);
    if (!view.router) {
      view.router = this.routerFor(state, () => Promise.reject(new WriteOnStandby()));
      this.#routeHint = { router: view.router, builtAt: monotonicClock.now() };
    }
    return view.router;
  }

  /** The current view's state, for the standby's own sys/metrics (see currentStandbyState). */
  async state(): Promise<NodeState> {
    return this.#stateOf(await this.#view());
  }

  /** Drops what the views hold (decrypted entries): on sealing and on becoming active. */
  forget(): void {
    this.#current = null;
    this.#routeHint = null;
    this.#cache?.end();
  }

  async #view(): Promise<ReadView> {
    const generation = this.#cache ? await this.generation() : null;
    const current = this.#current;
    if (generation !== null && current?.generation === generation) return current;
    // What was read stays valid for one generation: a read still using an older view reads on, uncached or fresh.
    if (generation === null) this.#cache?.end();
    else this.#cache!.begin();
    const view: ReadView = { generation, storage: this.#cache ?? this.#storage, state: null, router: null };
    // Only the newest generation is kept; a read still using an older view finishes with it.
    this.#current = generation === null ? null : view;
    return view;
  }

  #stateOf(view: ReadView): Promise<NodeState> {
    if (!view.state) {
      const loading = loadNodeState(view.storage, this.logical);
      view.state = loading;
      loading.catch(() => {
        if (view.state === loading) view.state = null;
      });
    }
    return view.state;
  }
}

/**
 * The logical state a standby authorises its own sys/metrics with, never the one loaded at unseal
 * (it learns of no later change): with standby reads, that of the current read view (reused only
 * while the active wrote nothing); without, read from storage for each such request. So a policy
 * changed or a token revoked on the active applies here at once. Writes are refused (WriteOnStandby).
 */
export function currentStandbyState(reads: StandbyReads | null, barrier: Storage, logical: LogicalOptions): Promise<NodeState> {
  return reads ? reads.state() : loadNodeState(readOnly(barrier), logical);
}

function readOnly(storage: Storage): Backend {
  return aroundWrites(storage, () => Promise.reject(new WriteOnStandby()));
}
