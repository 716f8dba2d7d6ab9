import { decodeJson, encodeJson, rfc3339 } from "../sdk/encoding.js";
import type { Storage } from "../sdk/types.js";
import { generateClusterIdentity } from "./identity.js";

/**
 * The active node's entry in encrypted storage (through the barrier), read by unsealed standbys:
 * where to send clients, where to forward, and the cluster channel's certificate and key.
 * It never leaves storage over the network.
 */
export interface Advertisement {
  node_id: string;
  api_addr: string;
  cluster_addr: string;
  cluster_cert: string;
  cluster_key: string;
  /** The lock epoch this node became active with. */
  epoch: number;
  /** RFC 3339. */
  active_time: string;
}

const PREFIX = "core/leader/";

/** A new active term's advertisement, with a fresh cluster identity valid for `validityMs` from `now`. */
export async function newAdvertisement(
  nodeId: string,
  { apiAddr, clusterAddr }: { apiAddr: string; clusterAddr: string },
  epoch: number,
  validityMs: number,
  now: Date,
): Promise<Advertisement> {
  const identity = await generateClusterIdentity(validityMs, now);
  return {
    node_id: nodeId,
    api_addr: apiAddr,
    cluster_addr: clusterAddr,
    cluster_cert: identity.certificatePem,
    cluster_key: identity.privateKeyPem,
    epoch,
    active_time: rfc3339(now),
  };
}

export async function writeAdvertisement(barrier: Storage, advertisement: Advertisement): Promise<void> {
  await barrier.put(PREFIX + advertisement.node_id, encodeJson(advertisement));
}

/** Earlier actives' entries are stale once `current` has advertised; removing them keeps their keys out of storage. */
export async function removeStaleAdvertisements(barrier: Storage, current: string): Promise<void> {
  for (const nodeId of await barrier.list(PREFIX)) {
    if (nodeId !== current) await barrier.delete(PREFIX + nodeId);
  }
}

export async function readAdvertisement(barrier: Storage, nodeId: string): Promise<Advertisement | null> {
  const bytes = await barrier.get(PREFIX + nodeId);
  return bytes ? decodeJson<Advertisement>(bytes) : null;
}

export async function removeAdvertisement(barrier: Storage, nodeId: string): Promise<void> {
  await barrier.delete(PREFIX + nodeId);
}
