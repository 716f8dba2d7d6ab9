import type { Seal } from "./seal.js";

export interface NodeSealState {
  initialized: boolean;
  sealed: boolean;
  storageType: string;
  clusterId: string;
}

/** sys/seal-status's body (also sys/unseal's answer): the seal's view plus the node's state. */
export async function sealStatusBody(seal: Seal, node: NodeSealState): Promise<Record<string, unknown>> {
  const config = await seal.config();
  return {
    type: seal.type,
    initialized: node.initialized,
    sealed: node.sealed,
    t: config?.secret_threshold ?? 0,
    n: config?.secret_shares ?? 0,
    ...seal.progress(),
    migration: seal.migrating ?? false,
    recovery_seal: seal.recoverySeal,
    storage_type: node.storageType,
    cluster_id: node.initialized && !node.sealed ? node.clusterId : undefined,
  };
}
