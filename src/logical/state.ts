import { AuthTable } from "./auth/auth-table.js";
import { MountTable } from "./mounts.js";
import { PolicyStore } from "./policy/policy-store.js";
import { storageView } from "./storage-view.js";
import { TokenStore } from "./token-store.js";
import { type LeaseTtls, VAULT_LEASE_TTLS } from "./lease-ttls.js";
import type { Storage } from "./types.js";

/** What an unsealed node serves from: rebuilt at every unseal and every active term, dropped at seal. */
export interface LogicalState {
  tokens: TokenStore;
  mounts: MountTable;
  policies: PolicyStore;
  auths: AuthTable;
}

/** Opens the stores through the barrier; on a new barrier this writes their initial entries. */
export interface LogicalOptions {
  now: () => number;
  /** The configuration's system lease TTLs (token TTLs, mount defaults and caps). */
  leaseTtls?: LeaseTtls;
}

export async function loadLogicalState(barrier: Storage, { now, leaseTtls = VAULT_LEASE_TTLS }: LogicalOptions): Promise<LogicalState> {
  const tokens = await TokenStore.open(storageView(barrier, "sys/token/"), now, leaseTtls);
  const mounts = await MountTable.load(barrier, leaseTtls);
  const policies = await PolicyStore.open(barrier);
  const auths = await AuthTable.load(barrier, leaseTtls);
  return { tokens, mounts, policies, auths };
}
