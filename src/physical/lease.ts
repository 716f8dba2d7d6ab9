/**
 * Record-version leases (the AWS DynamoDB Lock Client's scheme), independent of where the record lives.
 *
 * The lock is one record with a random `version` that changes on every write. No node ever compares
 * its clock with another's:
 * - a contender takes over only after it has seen the same version for a full lease on its own
 *   monotonic clock, timed from when its read *returned* (so the version was written before that);
 * - the holder times its lease from when it *sent* the write that produced the current version
 *   (so its lease starts no later than any contender's) and gives up at two thirds of the lease
 *   if no renewal has succeeded: before any contender could take over, whether storage refused,
 *   failed or never answered;
 * - every write is conditional on the version read or written last, and every acquisition bumps
 *   `epoch`, the fencing token;
 * - a released record (a tombstone that keeps the epoch) can be claimed at once.
 * A write whose outcome is unknown (timeout, reset) is retried with the same new version and
 * accepts either version, so a write that did land is recognised rather than taken for a loss.
 */
import { type Clock, type HALock, type LockHold, type LockRenewal, type LockTimings, LockLostError } from "./ha.js";
import type { StorageOptions } from "./options.js";

export interface LockLeaseRecord {
  version: string;
  epoch: number;
  released: boolean;
  value: string;
}

/**
 * The record operations a backend provides. Each resolves false when its condition does not hold;
 * it rejects when the outcome is unknown (network error, timeout, throttling).
 */
export interface LockLeaseStore {
  read(signal: AbortSignal): Promise<LockLeaseRecord | null>;
  /** Writes a held record if the current version is `expected` (null: no record yet). */
  claim(record: { version: string; epoch: number; value: string }, expected: string | null, signal: AbortSignal): Promise<boolean>;
  /** Sets the version to `next` if the current version is one of `expected`. */
  renew(expected: string[], next: string, signal: AbortSignal): Promise<boolean>;
  /** Marks the record released, with version `next`, if the current version is one of `expected`. */
  release(expected: string[], next: string, signal: AbortSignal): Promise<boolean>;
}

/** Defaults: crash failover in about lease − renew/2 + poll/2 (≈1.5 s); dynamodb.ts has the reasoning. */
export const defaultLockTimings: LockTimings = { leaseMs: 1500, renewIntervalMs: 300, retryIntervalMs: 200 };

/** A lock-holding stanza's timings: the lease's, and how long a node that stepped down stays out. */
export interface HATimings extends LockTimings {
  stepDownCooldownMs: number;
}

/** The lease defaults; Vault's manual step-down keeps the node out of the election for 10 s. */
export const defaultHATimings: HATimings = { ...defaultLockTimings, stepDownCooldownMs: 10_000 };

/**
 * Reads `ha_lease_duration`, `ha_renew_interval`, `ha_retry_interval` and `ha_step_down_cooldown`
 * from a stanza, so every store that can lock accepts the same keys with the same checks.
 */
export function haTimingsFrom(options: StorageOptions): HATimings {
  const timings: HATimings = {
    leaseMs: options.durationMs("ha_lease_duration", defaultHATimings.leaseMs),
    renewIntervalMs: options.durationMs("ha_renew_interval", defaultHATimings.renewIntervalMs),
    retryIntervalMs: options.durationMs("ha_retry_interval", defaultHATimings.retryIntervalMs),
    stepDownCooldownMs: options.durationMs("ha_step_down_cooldown", defaultHATimings.stepDownCooldownMs),
  };
  const problem = checkLockTimings(timings);
  if (problem) {
    throw options.error(`ha_lease_duration, ha_renew_interval and ha_retry_interval do not fit together: ${problem}`);
  }
  return timings;
}

/** The holder stops considering itself active this long after the write behind its current version. */
export function renewDeadlineMs(timings: LockTimings): number {
  return Math.floor((timings.leaseMs * 2) / 3);
}

/** Why `timings` cannot work, or null. Messages name the relation so config errors can cite keys. */
export function checkLockTimings(timings: LockTimings): string | null {
  if (timings.renewIntervalMs * 3 > timings.leaseMs) {
    return "the renew interval must be at most a third of the lease, so two renewals fit before the holder's deadline (two thirds of the lease)";
  }
  if (timings.retryIntervalMs > timings.leaseMs) return "the retry interval must not exceed the lease";
  return null;
}

export function leaseLock(store: LockLeaseStore, value: string, timings: LockTimings, clock: Clock): HALock {
  return { acquire: (signal) => acquire(store, value, timings, clock, signal) };
}

async function acquire(store: LockLeaseStore, value: string, timings: LockTimings, clock: Clock, signal: AbortSignal | undefined): Promise<LockHold> {
  const deadlineMs = renewDeadlineMs(timings);
  // Our claims by version: a claim whose answer was lost may still have landed.
  const claims = new Map<string, { sentAt: number; epoch: number }>();
  let seen = null as { version: string; since: number } | null;
  for (;;) {
    signal?.throwIfAborted();
    let record: LockLeaseRecord | null;
    try {
      record = await withTimeout(clock, timings.leaseMs, signal, (s) => store.read(s));
    } catch {
      signal?.throwIfAborted();
      await clock.sleep(timings.retryIntervalMs, signal);
      continue;
    }
    const readAt = clock.now();
    const ours = record && !record.released ? claims.get(record.version) : undefined;
    if (record && ours && readAt < ours.sentAt + deadlineMs) {
      return new LeaseHold(store, clock, timings, ours.epoch, record.version, ours.sentAt);
    }

    let claimable = !record || record.released || ours !== undefined;
    if (record && !claimable) {
      if (seen?.version === record.version) claimable = readAt - seen.since >= timings.leaseMs;
      else seen = { version: record.version, since: readAt };
    }
    if (claimable) {
      const version = crypto.randomUUID();
      const epoch = (record?.epoch ?? 0) + 1;
      const sentAt = clock.now();
      claims.set(version, { sentAt, epoch });
      try {
        const won = await withTimeout(clock, timings.leaseMs, signal, (s) => store.claim({ version, epoch, value }, record?.version ?? null, s));
        if (won && clock.now() < sentAt + deadlineMs) {
          return new LeaseHold(store, clock, timings, epoch, version, sentAt);
        }
      } catch {
        signal?.throwIfAborted();
        await clock.sleep(timings.retryIntervalMs, signal);
      }
      continue; // read again: someone else won, or we did and the next read says so
    }
    const untilTakeover = seen ? seen.since + timings.leaseMs - clock.now() : timings.retryIntervalMs;
    await clock.sleep(Math.max(1, Math.min(timings.retryIntervalMs, untilTakeover)), signal);
  }
}

class LeaseHold implements LockHold {
  readonly lost: AbortSignal;
  readonly #lost = new AbortController();
  readonly #stop = new AbortController();
  readonly #deadlineMs: number;
  #deadline: number;
  #version: string;
  /** The version of a renewal in flight or of unknown outcome. */
  #pending: string | null = null;
  readonly #renewing: Promise<void>;
  #released = false;
  #onRenewed: ((renewal: LockRenewal) => void) | null = null;

  constructor(
    private readonly store: LockLeaseStore,
    private readonly clock: Clock,
    private readonly timings: LockTimings,
    readonly epoch: number,
    version: string,
    sentAt: number,
  ) {
    this.lost = this.#lost.signal;
    this.#deadlineMs = renewDeadlineMs(timings);
    this.#version = version;
    this.#deadline = sentAt + this.#deadlineMs;
    this.#renewing = this.#renewLoop(sentAt);
  }

  held(): boolean {
    if (this.#lost.signal.aborted) return false;
    const now = this.clock.now();
    if (now < this.#deadline) return true;
    // How long ago: noticed late means the process was paused or its event loop blocked.
    this.#lose(`the lock's renewal deadline passed ${Math.round(now - this.#deadline)} ms ago`);
    return false;
  }

  certainForMs(): number {
    return this.held() ? this.#deadline - this.clock.now() : 0;
  }

  onRenewed(listener: (renewal: LockRenewal) => void): void {
    this.#onRenewed = listener;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#lose("the lock was released");
    await this.#renewing;
    const expected = this.#pending ? [this.#version, this.#pending] : [this.#version];
    await withTimeout(this.clock, this.timings.leaseMs, undefined, (s) => this.store.release(expected, crypto.randomUUID(), s));
  }

  #lose(reason: string): void {
    if (this.#lost.signal.aborted) return;
    this.#lost.abort(new LockLostError(reason));
    this.#stop.abort();
  }

  async #renewLoop(base: number): Promise<void> {
    const { clock } = this;
    const stop = this.#stop.signal;
    try {
      for (;;) {
        await clock.sleep(base + this.timings.renewIntervalMs - clock.now(), stop);
        const next = crypto.randomUUID();
        const roundStart = clock.now();
        this.#pending = next;
        for (;;) {
          const remaining = this.#deadline - clock.now();
          if (remaining <= 0) {
            return this.#lose(`could not renew the lock before its deadline (passed ${Math.round(-remaining)} ms ago): storage unreachable, failing or slow`);
          }
          // Half the remaining time per attempt leaves room to retry on a fresh connection.
          const attemptMs = remaining > 100 ? remaining / 2 : remaining;
          let renewed: boolean;
          try {
            renewed = await withTimeout(clock, attemptMs, stop, (s) => this.store.renew([this.#version, next], next, s));
          } catch {
            if (stop.aborted) return;
            await clock.sleep(Math.min(this.timings.retryIntervalMs, Math.max(0, this.#deadline - clock.now())), stop);
            continue;
          }
          if (!renewed) {
            // Noticed after the deadline (a slow answer, a starved event loop): the hold ended at the
            // deadline, not now; saying so keeps the log's account of the term right.
            const lateMs = clock.now() - this.#deadline;
            return this.#lose(
              `the lock record changed: another node took the lock${lateMs > 0 ? ` (noticed after the renewal deadline, which passed ${Math.round(lateMs)} ms ago)` : ""}`,
            );
          }
          const renewedAt = clock.now();
          const marginMs = this.#deadline - renewedAt;
          this.#version = next;
          this.#pending = null;
          base = roundStart;
          this.#deadline = roundStart + this.#deadlineMs;
          this.#onRenewed?.({ latencyMs: renewedAt - roundStart, marginMs });
          break;
        }
      }
    } catch (error) {
      // Only a stop ends the sleeps above; anything else is a bug we must not keep acting through.
      if (!stop.aborted) this.#lose(`lock renewal failed: ${String(error)}`);
    }
  }
}

/** Runs `operation` with a signal aborted after `ms` (on `clock`) or when `parent` aborts. */
async function withTimeout<T>(clock: Clock, ms: number, parent: AbortSignal | undefined, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent!.reason);
  if (parent?.aborted) onParentAbort();
  parent?.addEventListener("abort", onParentAbort, { once: true });
  clock.sleep(ms, controller.signal).then(
    () => controller.abort(new Error(`timed out after ${Math.round(ms)} ms`)),
    () => {},
  );
  try {
    return await operation(controller.signal);
  } finally {
    parent?.removeEventListener("abort", onParentAbort);
    controller.abort();
  }
}
