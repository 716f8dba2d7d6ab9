import { AuthTable } from "./auth/auth-table.js";
import { TokenRoles } from "./auth/token-roles.js";
import { Cubbyhole } from "./cubbyhole.js";
import { IDENTITY_MOUNT_PATH, Identity } from "./identity/identity.js";
import { MountTable } from "./mounts.js";
import { PolicyStore } from "./policy/policy-store.js";
import { storageView } from "./storage-view.js";
import { TokenStore } from "./token-store.js";
import { type LeaseTtls, VAULT_LEASE_TTLS } from "../sdk/lease-ttls.js";
import type { EndpointFlags, Storage } from "../sdk/types.js";

/** The stores an unsealed node serves from: rebuilt at every unseal and every active term, dropped at seal. */
export interface LogicalState {
  tokens: TokenStore;
  mounts: MountTable;
  policies: PolicyStore;
  auths: AuthTable;
  cubbyhole: Cubbyhole;
  tokenRoles: TokenRoles;
  identity: Identity;
}

export interface LogicalOptions {
  now: () => number;
  /** The configuration's system lease TTLs (token TTLs, mount defaults and caps). */
  leaseTtls?: LeaseTtls;
}

/** Opens the stores through the barrier; on a new barrier this writes their initial entries. */
export async function loadLogicalState(barrier: Storage, { now, leaseTtls = VAULT_LEASE_TTLS }: LogicalOptions): Promise<LogicalState> {
  // Independent entries: one storage round trip rather than six (a standby read loads them every time).
  let authTable: AuthTable | null = null;
  const authMount = (accessor: string) => {
    const entry = authTable?.entries().find((candidate) => candidate.accessor === accessor && candidate.type !== "token");
    return entry ? { type: entry.type, path: entry.path } : null;
  };
  const [tokens, mounts, policies, auths, cubbyhole, identity] = await Promise.all([
    TokenStore.open(storageView(barrier, "sys/token/"), now, leaseTtls),
    MountTable.load(barrier, leaseTtls),
    PolicyStore.open(barrier),
    AuthTable.load(barrier, leaseTtls),
    Cubbyhole.open(barrier),
    Identity.open(barrier, authMount),
  ]);
  authTable = auths;
  tokens.onRevoked((hash) => cubbyhole.destroy(hash));
  mounts.addBuiltin(cubbyhole.entry);
  mounts.addBuiltin(identity.entry);
  const tokenRoles = new TokenRoles(storageView(barrier, "sys/token/roles/"));
  return { tokens, mounts, policies, auths, cubbyhole, tokenRoles, identity };
}

/**
 * What the endpoint of a secrets engine, of an auth method under `auth/<mount>/`, or of identity
 * serving `path` declares (nothing declared: no flags).
 */
export function endpointFlags({ mounts, auths, identity }: LogicalState, path: string): EndpointFlags {
  if (path.startsWith(IDENTITY_MOUNT_PATH)) return identity.endpoint(path.slice(IDENTITY_MOUNT_PATH.length)) ?? {};
  const route = path.startsWith("auth/") ? auths.route(path.slice("auth/".length)) : null;
  if (route) return route.mounted.method.endpoint?.(route.relative) ?? {};
  const mounted = path.startsWith("auth/") ? null : mounts.route(path);
  return mounted?.mounted.engine.endpoint?.(mounted.relative) ?? {};
}
