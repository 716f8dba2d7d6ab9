/**
 * Reads the HA lock record the servers write (layout in src/physical/dynamodb-lock-item.ts):
 * one strongly consistent GetItem, the only permission the Worker needs.
 *
 * The AWS SDK runs in workerd without `nodejs_compat` (it picks its browser build: fetch and
 * WebCrypto) and adds about 90 KiB gzipped; using it rather than signing requests by hand keeps
 * SigV4, retries and error parsing in AWS's own tested code, which DynamoDB Local could not check
 * for us because it accepts any signature.
 */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { LOCK_KEY } from "../../src/ha/lock-value.js";
import { leaseRecordFromItem, lockItemKey } from "../../src/physical/dynamodb-lock-item.js";
import type { EdgeConfig } from "./config.js";

export interface LockRecord {
  version: string;
  released: boolean;
  /** The holder's public facts; empty once released. */
  value: string;
}

export type LockRecordReader = (signal: AbortSignal) => Promise<LockRecord | null>;

export function dynamoDBLockRecordReader(config: EdgeConfig): LockRecordReader {
  const client = new DynamoDBClient({
    region: config.region,
    endpoint: config.endpoint,
    credentials: config.credentials,
    // One retry for a dropped connection; the caller's deadline bounds both attempts.
    maxAttempts: 2,
  });
  return async (signal) => {
    const { Item } = await client.send(new GetItemCommand({ TableName: config.table, Key: lockItemKey(LOCK_KEY), ConsistentRead: true }), {
      abortSignal: signal,
    });
    return Item ? leaseRecordFromItem(Item) : null;
  };
}
