import { LogicalError, type MountEntry } from "./types.js";

/** The system-wide lease TTLs, in seconds: Vault's top-level `default_lease_ttl` and `max_lease_ttl`. */
export interface LeaseTtls {
  defaultSeconds: number;
  maxSeconds: number;
}

/** Vault's values when the configuration sets neither: 768h each. */
export const VAULT_LEASE_TTLS: LeaseTtls = { defaultSeconds: 768 * 3600, maxSeconds: 768 * 3600 };

/** A mount's TTLs as they apply: its own where set (non-zero), else the system's. */
export function effectiveMountTtls(config: MountEntry["config"], system: LeaseTtls): { default_lease_ttl: number; max_lease_ttl: number } {
  const max = config.max_lease_ttl || system.maxSeconds;
  return { default_lease_ttl: Math.min(config.default_lease_ttl || system.defaultSeconds, max), max_lease_ttl: max };
}

/**
 * Vault's tune rules: the mount's default at most its max (its own, else the system's). Its max may
 * exceed the system's: for that mount, its own wins.
 */
export function checkMountTtls(config: MountEntry["config"], system: LeaseTtls): void {
  const max = config.max_lease_ttl || system.maxSeconds;
  if (config.default_lease_ttl > max) {
    throw new LogicalError(400, `"default_lease_ttl" (${config.default_lease_ttl}s) cannot be greater than the max lease TTL (${max}s)`);
  }
}
