/**
 * Vault's user lockout for userpass and AppRole: after `threshold` failed logins for one user (or
 * role ID), within `counterReset` of each other, its logins are refused for `duration` without
 * checking the credentials (no PBKDF2). A successful login clears the count.
 *
 * Failure counts live in memory on the active node: counting through the barrier would add a
 * (fenced) storage write to every failed login, the very request a flood multiplies, and failures
 * for names that do not exist must be counted too (or a lockout would tell which users exist).
 * A lockout itself is written through the barrier when it starts (see AuthTable), so a new active
 * keeps refusing a locked-out user: forcing a leadership change does not buy an attacker guesses.
 */
import { durationSeconds, isPlainObject, parseCount, parseFlag } from "../../sdk/fields.js";
import { LogicalError } from "../../sdk/types.js";

export interface LockoutConfig {
  threshold: number;
  durationSeconds: number;
  counterResetSeconds: number;
  disabled: boolean;
}

/** Vault's defaults: 5 attempts, 15 minutes locked, count forgotten after 15 minutes without failures. */
export const DEFAULT_LOCKOUT: LockoutConfig = { threshold: 5, durationSeconds: 900, counterResetSeconds: 900, disabled: false };

/** Users tracked at once per node; beyond it the least recently failing are forgotten. */
const MAX_TRACKED = 10_000;

/** Vault's answer to a locked-out user (its own class so lockouts can be counted). */
export class LockedOut extends LogicalError {
  constructor() {
    super(400, "permission denied");
  }
}

interface Tracked {
  accessor: string;
  alias: string;
  /** Failed attempts plus attempts in flight (counted when they start, so a burst cannot overshoot). */
  attempts: number;
  lastAttemptAt: number;
  /** Epoch ms; 0 = not locked. */
  lockedUntil: number;
}

/** The outcome of one login, reported back to the lockout. */
export interface LoginAttempt {
  succeeded(): void;
  /** True when this failure locks the user out. */
  failed(now: number): boolean;
  /** The login failed for another reason than its credentials (missing field, CIDR, storage): not counted. */
  abandoned(): void;
}

export class UserLockout {
  readonly #tracked = new Map<string, Tracked>();

  /** Starts a login for `alias` on the mount `accessor`; a 400 "permission denied" if it is locked out. */
  begin(accessor: string, alias: string, config: LockoutConfig, now: number): LoginAttempt {
    const key = `${accessor}\n${alias}`;
    let entry = this.#tracked.get(key);
    if (entry && (entry.lockedUntil ? entry.lockedUntil <= now : entry.lastAttemptAt + config.counterResetSeconds * 1000 <= now)) {
      this.#tracked.delete(key);
      entry = undefined;
    }
    if (entry && (entry.lockedUntil > now || entry.attempts >= config.threshold)) throw new LockedOut();
    entry ??= { accessor, alias, attempts: 0, lastAttemptAt: now, lockedUntil: 0 };
    entry.attempts++;
    entry.lastAttemptAt = now;
    this.#remember(key, entry);
    const tracked = entry;
    const forget = () => {
      if (this.#tracked.get(key) === tracked) this.#tracked.delete(key);
    };
    return {
      succeeded: forget,
      failed: (at) => {
        if (tracked.attempts < config.threshold) return false;
        tracked.lockedUntil = at + config.durationSeconds * 1000;
        return true;
      },
      abandoned: () => {
        tracked.attempts--;
        if (tracked.attempts === 0) forget();
      },
    };
  }

  /** The aliases locked out now, by mount accessor. */
  locked(now: number): Map<string, string[]> {
    const byAccessor = new Map<string, string[]>();
    for (const entry of this.#tracked.values()) {
      if (entry.lockedUntil <= now) continue;
      byAccessor.set(entry.accessor, [...(byAccessor.get(entry.accessor) ?? []), entry.alias]);
    }
    return byAccessor;
  }

  /** A mount's lockouts in force at `now`, the latest first, at most `limit`. */
  lockouts(accessor: string, now: number, limit: number): StoredLockout[] {
    const found: StoredLockout[] = [];
    for (const entry of this.#tracked.values()) {
      if (entry.accessor === accessor && entry.lockedUntil > now) found.push({ alias: entry.alias, locked_until: entry.lockedUntil });
    }
    return found.sort((a, b) => b.locked_until - a.locked_until).slice(0, limit);
  }

  /** Takes back a lockout written by an earlier active. */
  restore(accessor: string, { alias, locked_until }: StoredLockout): void {
    this.#remember(`${accessor}\n${alias}`, { accessor, alias, attempts: 0, lastAttemptAt: locked_until, lockedUntil: locked_until });
  }

  unlock(accessor: string, alias: string): void {
    this.#tracked.delete(`${accessor}\n${alias}`);
  }

  /** Forgets a mount's users (the mount was disabled). */
  forgetMount(accessor: string): void {
    for (const [key, entry] of this.#tracked) if (entry.accessor === accessor) this.#tracked.delete(key);
  }

  #remember(key: string, entry: Tracked): void {
    this.#tracked.delete(key);
    this.#tracked.set(key, entry);
    if (this.#tracked.size > MAX_TRACKED) this.#tracked.delete(this.#tracked.keys().next().value!);
  }
}

/** A lockout as written through the barrier: who, and until when (epoch ms). */
export interface StoredLockout {
  alias: string;
  locked_until: number;
}

/** The mount's `user_lockout_config` as stored: Vault's API field names, durations in seconds. */
export interface StoredLockoutConfig {
  lockout_threshold?: number;
  lockout_duration?: number;
  lockout_counter_reset_duration?: number;
  lockout_disable?: boolean;
}

/** Applies a tune request's `user_lockout_config` to the stored one; 400 for a malformed value. */
export function tuneLockoutConfig(current: StoredLockoutConfig | undefined, input: unknown): StoredLockoutConfig {
  if (!isPlainObject(input)) throw new LogicalError(400, `"user_lockout_config" must be an object`);
  const duration = (field: keyof StoredLockoutConfig): number | undefined => {
    const value = input[field];
    if (value === undefined || value === "") return current?.[field] as number | undefined;
    const seconds = durationSeconds(value);
    if (seconds === undefined || seconds < 0) throw new LogicalError(400, `invalid duration for "user_lockout_config.${field}": ${JSON.stringify(value)}`);
    return seconds;
  };
  return {
    lockout_threshold: parseCount("user_lockout_config.lockout_threshold", input.lockout_threshold) ?? current?.lockout_threshold,
    lockout_duration: duration("lockout_duration"),
    lockout_counter_reset_duration: duration("lockout_counter_reset_duration"),
    lockout_disable: parseFlag("user_lockout_config.lockout_disable", input.lockout_disable) ?? current?.lockout_disable,
  };
}

/** The settings in force on a mount: its own where set (a zero threshold or duration means "default"), else the defaults. */
export function effectiveLockoutConfig(stored: StoredLockoutConfig | undefined): LockoutConfig {
  return {
    threshold: stored?.lockout_threshold || DEFAULT_LOCKOUT.threshold,
    durationSeconds: stored?.lockout_duration || DEFAULT_LOCKOUT.durationSeconds,
    counterResetSeconds: stored?.lockout_counter_reset_duration || DEFAULT_LOCKOUT.counterResetSeconds,
    disabled: stored?.lockout_disable ?? DEFAULT_LOCKOUT.disabled,
  };
}

/** The tune read's `user_lockout_config`, as Vault reports it. */
export function describeLockoutConfig(stored: StoredLockoutConfig | undefined): Record<string, unknown> {
  const config = effectiveLockoutConfig(stored);
  return {
    user_lockout_threshold: config.threshold,
    user_lockout_duration: config.durationSeconds,
    user_lockout_counter_reset_duration: config.counterResetSeconds,
    user_lockout_disable: config.disabled,
  };
}
