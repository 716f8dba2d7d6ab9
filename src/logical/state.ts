import { AuditTable } from "../audit/audit-table.js";
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
  audit: AuditTable;
}

/** Opens the stores through the barrier; on a new barrier this writes their initial entries. */
export async function loadLogicalState(barrier: Storage, now: () => number): Promise<LogicalState> {
  const tokens = await TokenStore.open(storageView(barrier, "sys/token/"), now);
  const mounts = await MountTable.load(barrier);
  const policies = await PolicyStore.open(barrier);
  const auths = await AuthTable.load(barrier);
  const audit = await AuditTable.load(barrier);
  return { tokens, mounts, policies, auths, audit };
}
