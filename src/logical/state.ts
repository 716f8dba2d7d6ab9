import { AuthTable } from "./auth/auth-table.js";
import { MountTable } from "./mounts.js";
import { PolicyStore } from "./policy/policy-store.js";
import { storageView } from "./storage-view.js";
import { TokenStore } from "./token-store.js";
import type { Storage } from "./types.js";

/** What an unsealed node serves from: rebuilt at every unseal and every active term, dropped at seal. */
export interface LogicalState {
  tokens: TokenStore;
  mounts: MountTable;
  policies: PolicyStore;
  auths: AuthTable;
}

/** Opens the stores through the barrier; on a new barrier this writes their initial entries. */
export async function loadLogicalState(barrier: Storage, now: () => number): Promise<LogicalState> {
  // Independent entries: one storage round trip rather than four (a standby read loads them every time).
  const [tokens, mounts, policies, auths] = await Promise.all([
    TokenStore.open(storageView(barrier, "sys/token/"), now),
    MountTable.load(barrier),
    PolicyStore.open(barrier),
    AuthTable.load(barrier),
  ]);
  return { tokens, mounts, policies, auths };
}
