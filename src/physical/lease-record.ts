import type { LockLeaseRecord } from "./lease.js";

/**
 * A lease record as bytes, for stores that keep it as one opaque value (etcd, ZooKeeper): JSON of
 * public facts only (the holder's advertisement value, never a secret).
 */
export function encodeRecord(record: LockLeaseRecord): Uint8Array {
  const { version, epoch, released, value } = record;
  return new TextEncoder().encode(JSON.stringify({ version, epoch, released, value }));
}

export function decodeRecord(bytes: Uint8Array): LockLeaseRecord {
  let parsed: Partial<LockLeaseRecord>;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LockLeaseRecord>;
  } catch {
    parsed = {};
  }
  if (typeof parsed.version !== "string" || typeof parsed.epoch !== "number" || typeof parsed.released !== "boolean" || typeof parsed.value !== "string") {
    throw new Error("the HA lock record is not one Strongbox wrote (another program uses this path?)");
  }
  return { version: parsed.version, epoch: parsed.epoch, released: parsed.released, value: parsed.value };
}

/** What a store's fence holds while `epoch` holds the lock; claims and releases set it, renewals do not. */
export function fenceValue(epoch: number): Uint8Array {
  return new TextEncoder().encode(String(epoch));
}
