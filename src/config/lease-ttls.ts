import { requireDurationMs } from "./duration.js";
import { ConfigError } from "./types.js";
import type { FromFile } from "./values.js";

/** Vault's default for both top-level keys: 768h. */
const VAULT_DEFAULT_SECONDS = 768 * 3600;

/** A lease TTL key: a duration of whole seconds, at least one ("768h", "30m", 3600). */
export function requireLeaseTtlSeconds(value: unknown, at: string): number {
  const ms = requireDurationMs(value, at);
  if (ms < 1000 || ms % 1000 !== 0)
    throw new ConfigError(`${at} must be a whole number of seconds, at least 1s (e.g. "768h", "30m", 3600); got ${JSON.stringify(value)}`);
  return ms / 1000;
}

/** The top-level `default_lease_ttl` and `max_lease_ttl`, each 768h when absent; the default may not exceed the max. */
export function resolveLeaseTtls(
  defaultTtl: FromFile<number> | undefined,
  maxTtl: FromFile<number> | undefined,
): { defaultSeconds: number; maxSeconds: number } {
  const defaultSeconds = defaultTtl?.value ?? VAULT_DEFAULT_SECONDS;
  const maxSeconds = maxTtl?.value ?? VAULT_DEFAULT_SECONDS;
  // As Vault, which does not lower an unset default to a smaller max: it says so instead.
  if (defaultSeconds > maxSeconds) {
    const given = defaultTtl
      ? `${defaultTtl.file}: "default_lease_ttl" is ${defaultSeconds}s`
      : `"default_lease_ttl" is not set, so it is 768h (${defaultSeconds}s)`;
    const max = maxTtl ? `"max_lease_ttl" (${maxSeconds}s, ${maxTtl.file})` : `"max_lease_ttl" (not set: 768h = ${maxSeconds}s)`;
    throw new ConfigError(`${given}, more than ${max}; set default_lease_ttl to at most the max lease TTL`);
  }
  return { defaultSeconds, maxSeconds };
}
