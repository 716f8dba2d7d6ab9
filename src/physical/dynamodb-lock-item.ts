import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { LockLeaseRecord } from "./lease.js";

/**
 * The HA lock's DynamoDB item, shared by the backend that writes it and the edge Worker that reads
 * it. Lock records live in their own partition, `Path` = "/lock", so IAM can grant a read-only
 * principal exactly that partition (`dynamodb:LeadingKeys`). Attributes: `Value` (public facts,
 * removed on release), `Epoch`, `RecordVersion` (changes on every write), `Released`.
 */
export const LOCK_PARTITION = "/lock";

export function lockItemKey(lockKey: string): Record<string, AttributeValue> {
  return { Path: { S: LOCK_PARTITION }, Key: { S: lockKey } };
}

export function leaseRecordFromItem(item: Record<string, AttributeValue>): LockLeaseRecord {
  return {
    version: item.RecordVersion?.S ?? "",
    epoch: Number(item.Epoch?.N ?? 0),
    released: item.Released?.BOOL === true,
    value: item.Value?.S ?? "",
  };
}
