import type { Operation } from "./types.js";

/**
 * Authorisation until full ACL policies land (issue 11): the `root` policy may do anything; every
 * other token gets what Vault's built-in `default` policy grants for the paths we serve — managing
 * itself, nothing else. Deny by default keeps non-root tokens least-privileged meanwhile.
 */
const DEFAULT_POLICY_PATHS: Record<string, Operation[]> = {
  "auth/token/lookup-self": ["read"],
  "auth/token/renew-self": ["update", "create"],
  "auth/token/revoke-self": ["update", "create"],
  "sys/capabilities-self": ["update", "create"],
};

export function isAllowed(policies: readonly string[], path: string, operation: Operation): boolean {
  if (policies.includes("root")) return true;
  return DEFAULT_POLICY_PATHS[path]?.includes(operation) ?? false;
}
