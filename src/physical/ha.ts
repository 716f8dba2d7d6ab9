import type { Backend } from "./backend.js";

/**
 * The HA lock interface. One lock record per key; whoever holds it is the active node.
 * The lease algorithm (never comparing clocks across nodes) lives in lease.ts; backends supply
 * the record operations.
 */
export interface HABackend {
  /** False when the backend type could lock but the configuration did not enable HA. */
  readonly haEnabled: boolean;
  /** How long a node that stepped down stays out of the election (`ha_step_down_cooldown`). */
  readonly stepDownCooldownMs: number;
  /** How long a contender must see the record unchanged before taking over (`ha_lease_duration`). */
  readonly leaseMs: number;
  /** A lock on `key` whose record will carry `value` while held: public facts only (holder id, api_addr). */
  lockWith(key: string, value: string): HALock;
  /** Who holds `key` now, as far as the record says; null when free or released. */
  currentHolder(key: string): Promise<LockHolder | null>;
}

export interface LockHolder {
  value: string;
  epoch: number;
}

export interface HALock {
  /** Resolves once the lock is held; rejects with `signal.reason` if aborted first. */
  acquire(signal?: AbortSignal): Promise<LockHold>;
}

export interface LockHold {
  /** Fencing token: strictly greater than every earlier acquisition's epoch of this key. */
  readonly epoch: number;
  /**
   * Aborted, with a LockLostError as reason, once the hold may have lapsed: the renewal deadline
   * passed, the record changed under us, or the hold was released. Fires before any other node
   * could take the lock over.
   */
  readonly lost: AbortSignal;
  /**
   * Whether the hold is certainly still ours. Reads the monotonic clock, so it is right even when
   * timers fire late (a paused process sees `false` as soon as it resumes); aborts `lost` if not.
   */
  held(): boolean;
  /** How much longer the hold is certainly ours, on the monotonic clock; 0 once `held()` is false. */
  certainForMs(): number;
  /**
   * Stops acting (aborts `lost`) and renewing, then marks the record released if it is still ours,
   * so a waiting node takes over at once. Rejects if storage did not answer; the lease then runs out.
   */
  release(): Promise<void>;
  /** Calls `listener` after each successful renewal (holds that renew a lease; others never call it). */
  onRenewed?(listener: (renewal: LockRenewal) => void): void;
}

/** One successful renewal, for the metrics operators watch to see how near a term came to lapsing. */
export interface LockRenewal {
  /** From sending the round's first attempt to its success (retries included). */
  latencyMs: number;
  /** How long before the holder's deadline the renewal succeeded: the closer to 0, the nearer the term came to ending. */
  marginMs: number;
}

/** Lease timings, all in milliseconds. */
export interface LockTimings {
  /** How long a contender must see the record unchanged (on its own clock) before taking over. */
  leaseMs: number;
  /** How often the holder renews. */
  renewIntervalMs: number;
  /** How often a contender polls the record, and the pause between failed renewal attempts. */
  retryIntervalMs: number;
}

/** A monotonic clock and a matching sleep; injectable so tests can skew or pause a node. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with `signal.reason` when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(
        () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

export class LockLostError extends Error {
  override name = "LockLostError";
}

/** A write through a fenced view failed because the lock no longer carries the view's epoch. */
export class FencedError extends Error {
  override name = "FencedError";
}

/** A backend that can make writes conditional on a lock record it also stores. */
export interface Fenceable {
  /**
   * A view of this backend whose `put` and `delete` succeed only while the lock record for
   * `lockKey` holds `epoch` and is not released; otherwise they reject with FencedError.
   * Reads pass through.
   */
  fencedBy(lockKey: string, epoch: number): Backend;
}

export function isHABackend(backend: Backend): backend is Backend & HABackend {
  const candidate = backend as Partial<HABackend>;
  return typeof candidate.lockWith === "function" && candidate.haEnabled === true;
}

export function isFenceable(backend: Backend): backend is Backend & Fenceable {
  return typeof (backend as Partial<Fenceable>).fencedBy === "function";
}
