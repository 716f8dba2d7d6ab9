import { loadLogicalState, type LogicalOptions, type LogicalState } from "../logical/state.js";
import type { Storage } from "../sdk/types.js";
import { AuditTable } from "./audit-table.js";

/** What an unsealed node serves from: the logical state and, beside it, the audit device table. */
export interface NodeState extends LogicalState {
  audit: AuditTable;
}

/** Opens the logical state and the audit table together (one storage round trip, not two). */
export async function loadNodeState(barrier: Storage, options: LogicalOptions): Promise<NodeState> {
  const [state, audit] = await Promise.all([loadLogicalState(barrier, options), AuditTable.load(barrier)]);
  return { ...state, audit };
}
