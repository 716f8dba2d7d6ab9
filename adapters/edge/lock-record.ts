/**
 * Reads the HA lock record the servers write (src/physical/dynamodb.ts has the layout): item
 * `Path` = "/lock", `Key` = "core/lock" (src/core.ts `LOCK_KEY`), with `Value` (JSON
 * `{"id","api_addr"}`, removed on release), `RecordVersion` (changes on every renewal) and
 * `Released`. One strongly consistent GetItem, the only permission the Worker needs.
 *
 * The AWS SDK runs in workerd without `nodejs_compat` (it picks its browser build: fetch and
 * WebCrypto) and adds about 90 KiB gzipped; using it rather than signing requests by hand keeps
 * SigV4, retries and error parsing in AWS's own tested code, which DynamoDB Local could not check
 * for us because it accepts any signature.
 */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { EdgeConfig } from "./config.js";

export interface LockRecord {
  version: string;
  released: boolean;
  /** The holder's public facts; empty once released. */
  value: string;
}

export type LockRecordReader = (signal: AbortSignal) => Promise<LockRecord | null>;

const LOCK_ITEM_KEY = { Path: { S: "/lock" }, Key: { S: "core/lock" } };

export function dynamoDBLockRecordReader(config: EdgeConfig): LockRecordReader {
  const client = new DynamoDBClient({
    region: config.region,
    endpoint: config.endpoint,
    credentials: config.credentials,
    // One retry for a dropped connection; the caller's deadline bounds both attempts.
    maxAttempts: 2,
  });
  return async (signal) => {
    const { Item } = await client.send(
      new GetItemCommand({ TableName: config.table, Key: LOCK_ITEM_KEY, ConsistentRead: true }),
      { abortSignal: signal },
    );
    if (!Item) return null;
    return {
      version: Item.RecordVersion?.S ?? "",
      released: Item.Released?.BOOL === true,
      value: Item.Value?.S ?? "",
    };
  };
}
