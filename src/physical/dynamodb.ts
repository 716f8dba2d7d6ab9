/**
 * DynamoDB storage and HA lock on one table.
 *
 * Layout, as Vault's DynamoDB backend: hash key `Path` (the key's parent, " " for the root), range
 * key `Key` (its last segment), binary `Value`. Each parent folder has a marker item (`Key` = name
 * + "/") in its own parent, so `list` is one Query on the parent path. Markers carry a random `Gen`
 * that every write under them changes, and `delete` prunes a marker only if its `Gen` is still
 * the one it saw before finding the folder empty: a concurrent put cannot lose its marker.
 *
 * Lock records live in their own partition, `Path` = "/lock", `Key` = the lock key: no storage key
 * maps there (keys may not start with "/"), and IAM can grant a read-only principal (the edge)
 * exactly that partition with `dynamodb:LeadingKeys`. Attributes: `Value` (string, public facts),
 * `Epoch` (number), `RecordVersion` (string), `Released` (present once released).
 *
 * Lock timings (lease.ts has the algorithm). After a crash, the holder's last write is up to one
 * renew interval old, a standby notices it up to one poll later and takes over a lease after
 * noticing: failover ≈ lease − renew/2 + poll/2 + 2 round trips, ≈1.5 s on average and under
 * 1.8 s at worst with the defaults (lease 1.5 s, renew every 300 ms, poll every 200 ms). The
 * holder stops at two thirds of the lease (1 s) without a successful renewal, which leaves each
 * renewal round 700 ms and several attempts, far above DynamoDB's tail latency, so normal hiccups
 * do not flap leadership; the last third (500 ms) absorbs event-loop delays on the holder.
 * Standbys cost one strongly consistent read per poll.
 */
import type { AttributeValue, DynamoDBClient, TransactWriteItem, WriteRequest } from "@aws-sdk/client-dynamodb";
import { type AwsCredentials, awsCredentials, awsRegion, endpointUrl } from "./aws.js";
import { type Backend, BackendInputError } from "./backend.js";
import { type Clock, type Fenceable, type HABackend, type HALock, type LockHolder, FencedError, monotonicClock } from "./ha.js";
import type { StorageDriver } from "./driver.js";
import { type HATimings, type LockLeaseStore, haTimingsFrom, leaseLock } from "./lease.js";
import { backoffMs, DynamoDBLeaseStore, isNamed } from "./dynamodb-lease.js";
import { leaseRecordFromItem, lockItemKey } from "./dynamodb-lock-item.js";
import { StorageOptions } from "./options.js";
import { Permits } from "./permits.js";

type Sdk = typeof import("@aws-sdk/client-dynamodb");

const ROOT_PATH = " ";
/** DynamoDB's item size limit (attribute names count too). */
const ITEM_LIMIT_BYTES = 400 * 1024;
const PARTITION_KEY_LIMIT_BYTES = 2048;
const SORT_KEY_LIMIT_BYTES = 1024;
const BATCH_LIMIT = 25;

export interface DynamoDBSettings {
  table: string;
  region: string;
  endpoint: string | undefined;
  credentials: AwsCredentials | undefined;
  maxParallel: number;
  billingMode: "PAY_PER_REQUEST" | "PROVISIONED";
  readCapacity: number;
  writeCapacity: number;
  haEnabled: boolean;
  lock: HATimings;
}

/** Reads a `storage "dynamodb"` stanza; environment variables win over options, as in Vault. */
export function dynamodbSettings(options: Record<string, string>, env: Record<string, string | undefined>): DynamoDBSettings {
  const o = new StorageOptions("dynamodb", options, env);
  const lock = haTimingsFrom(o);
  return {
    table: o.string("table", ["AWS_DYNAMODB_TABLE"]) ?? "vault-dynamodb-backend",
    region: awsRegion(o),
    endpoint: endpointUrl(o.string("endpoint", ["AWS_DYNAMODB_ENDPOINT"])),
    credentials: awsCredentials(o),
    maxParallel: o.positiveInt("max_parallel", 128),
    // Vault defaults to PROVISIONED 5/5, which the lock's polling and renewals alone would exceed.
    billingMode: o.oneOf("billing_mode", ["PAY_PER_REQUEST", "PROVISIONED"] as const, "PAY_PER_REQUEST", ["AWS_DYNAMODB_BILLING_MODE"]),
    readCapacity: o.positiveInt("read_capacity", 5, ["AWS_DYNAMODB_READ_CAPACITY"]),
    writeCapacity: o.positiveInt("write_capacity", 5, ["AWS_DYNAMODB_WRITE_CAPACITY"]),
    // On unless turned off (Vault defaults to off): a store that can lock should, so HA needs no extra step.
    haEnabled: o.bool("ha_enabled", true, ["DYNAMODB_HA_ENABLED"]),
    lock,
  };
}

/** `storage "dynamodb"`: data and the HA lock in one table. The SDK loads on first create. */
export const dynamodbDriver: StorageDriver = {
  type: "dynamodb",
  ha: true,
  create: (options, env) => createDynamoDBBackend(options, env),
};

/** Connects, creating the table if it is missing. `clock` drives the lock (tests inject their own). */
export async function createDynamoDBBackend(
  options: Record<string, string>,
  env: Record<string, string | undefined>,
  clock: Clock = monotonicClock,
): Promise<DynamoDBBackend> {
  const settings = dynamodbSettings(options, env);
  const sdk = await import("@aws-sdk/client-dynamodb");
  const config = { region: settings.region, endpoint: settings.endpoint, credentials: settings.credentials };
  const data = new sdk.DynamoDBClient(config);
  // The lock gets its own connections (never queued behind data traffic) and retries on its own
  // schedule, within its deadline.
  const lock = new sdk.DynamoDBClient({ ...config, maxAttempts: 1 });
  await ensureTable(sdk, data, settings);
  return new DynamoDBBackend(sdk, data, lock, settings, clock);
}

async function ensureTable(sdk: Sdk, client: DynamoDBClient, settings: DynamoDBSettings): Promise<void> {
  const { table, region } = settings;
  const where = `DynamoDB table "${table}" (region ${region}${settings.endpoint ? `, endpoint ${settings.endpoint}` : ""})`;
  try {
    const { Table } = await client.send(new sdk.DescribeTableCommand({ TableName: table }));
    const schema = (Table?.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(",");
    if (schema !== "Path:HASH,Key:RANGE") {
      throw new Error(`${where} has key schema ${schema || "(none)"}; expected hash key Path and range key Key (strings)`);
    }
    return;
  } catch (error) {
    if (isNamed(error, "AccessDeniedException")) {
      throw new Error(`${where}: not permitted to describe it; grant dynamodb:DescribeTable (${messageOf(error)})`);
    }
    if (!isNamed(error, "ResourceNotFoundException")) {
      if (error instanceof Error && error.message.startsWith(where)) throw error;
      throw new Error(`${where}: cannot check it: ${messageOf(error)}`);
    }
  }
  try {
    await client.send(
      new sdk.CreateTableCommand({
        TableName: table,
        KeySchema: [
          { AttributeName: "Path", KeyType: "HASH" },
          { AttributeName: "Key", KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: "Path", AttributeType: "S" },
          { AttributeName: "Key", AttributeType: "S" },
        ],
        BillingMode: settings.billingMode,
        ...(settings.billingMode === "PROVISIONED" && {
          ProvisionedThroughput: { ReadCapacityUnits: settings.readCapacity, WriteCapacityUnits: settings.writeCapacity },
        }),
      }),
    );
  } catch (error) {
    if (isNamed(error, "AccessDeniedException")) {
      throw new Error(
        `${where} does not exist and creating it is not permitted: grant dynamodb:CreateTable, or create it ` +
          `with hash key Path (S) and range key Key (S) (${messageOf(error)})`,
      );
    }
    // Another node created it at the same moment.
    if (!isNamed(error, "ResourceInUseException")) throw new Error(`${where}: cannot create it: ${messageOf(error)}`);
  }
  // The waiter's default first pause is 20 s; a new table is usually ACTIVE within seconds.
  await sdk.waitUntilTableExists({ client, maxWaitTime: 300, minDelay: 1, maxDelay: 5 }, { TableName: table });
}

interface Fence {
  lockKey: string;
  epoch: number;
}

export class DynamoDBBackend implements Backend, HABackend, Fenceable {
  readonly haEnabled: boolean;
  readonly stepDownCooldownMs: number;
  readonly leaseMs: number;
  readonly #permits: Permits;

  constructor(
    private readonly sdk: Sdk,
    private readonly data: DynamoDBClient,
    private readonly lockClient: DynamoDBClient,
    private readonly settings: DynamoDBSettings,
    private readonly clock: Clock,
  ) {
    this.haEnabled = settings.haEnabled;
    this.stepDownCooldownMs = settings.lock.stepDownCooldownMs;
    this.leaseMs = settings.lock.leaseMs;
    this.#permits = new Permits(settings.maxParallel);
  }

  async get(key: string): Promise<Uint8Array | null> {
    const { Item } = await this.#permits.run(() =>
      this.data.send(
        new this.sdk.GetItemCommand({
          TableName: this.settings.table,
          Key: itemKey(key),
          ConsistentRead: true,
          ProjectionExpression: "#value",
          ExpressionAttributeNames: { "#value": "Value" },
        }),
      ),
    );
    return Item?.Value?.B ?? null;
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.#put(key, value, null);
  }

  delete(key: string): Promise<void> {
    return this.#delete(key, null);
  }

  async list(prefix: string): Promise<string[]> {
    if (prefix !== "" && (!prefix.endsWith("/") || prefix.startsWith("/"))) {
      throw new BackendInputError(`list prefix ${JSON.stringify(prefix)} must be "" or end with "/" and not start with "/"`);
    }
    const path = prefix === "" ? ROOT_PATH : prefix.slice(0, -1);
    const children: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.#permits.run(() =>
        this.data.send(
          new this.sdk.QueryCommand({
            TableName: this.settings.table,
            KeyConditionExpression: "#path = :path",
            ExpressionAttributeNames: { "#path": "Path", "#key": "Key" },
            ExpressionAttributeValues: { ":path": { S: path } },
            ProjectionExpression: "#key",
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of page.Items ?? []) children.push(item.Key!.S!);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return children.sort();
  }

  lockWith(key: string, value: string): HALock {
    if (!this.haEnabled) throw new Error('HA is not enabled for this DynamoDB storage (set ha_enabled = "true")');
    return leaseLock(this.leaseStore(key), value, this.settings.lock, this.clock);
  }

  /** The lock record operations on `key` (tests check them against the real store). */
  leaseStore(key: string): LockLeaseStore {
    return new DynamoDBLeaseStore(this.sdk, this.lockClient, this.settings.table, key, this.clock);
  }

  async currentHolder(key: string): Promise<LockHolder | null> {
    // Bounded: a standby routing requests must answer, not hang, when DynamoDB stops answering it;
    // an answer older than a lease would be out of date anyway.
    const { Item } = await this.#permits.run(() =>
      this.data.send(new this.sdk.GetItemCommand({ TableName: this.settings.table, Key: lockItemKey(key), ConsistentRead: true }), {
        abortSignal: AbortSignal.timeout(this.settings.lock.leaseMs),
      }),
    );
    const record = Item ? leaseRecordFromItem(Item) : null;
    return record && !record.released ? { value: record.value, epoch: record.epoch } : null;
  }

  fencedBy(lockKey: string, epoch: number): Backend {
    const fence: Fence = { lockKey, epoch };
    return {
      get: (key) => this.get(key),
      list: (prefix) => this.list(prefix),
      put: (key, value) => this.#put(key, value, fence),
      delete: (key) => this.#delete(key, fence),
    };
  }

  async #put(key: string, value: Uint8Array, fence: Fence | null): Promise<void> {
    const { Path, Key } = locate(key);
    const size = utf8Length("Path") + utf8Length(Path) + utf8Length("Key") + utf8Length(Key) + utf8Length("Value");
    if (size + value.length > ITEM_LIMIT_BYTES) {
      throw new BackendInputError(
        `value for ${JSON.stringify(key)} is ${value.length} bytes; DynamoDB items are limited to 400 KB, ` +
          `which leaves at most ${ITEM_LIMIT_BYTES - size} bytes for this key`,
      );
    }
    const item = { Path: { S: Path }, Key: { S: Key }, Value: { B: value } };
    const { table } = this.settings;
    if (fence) await this.#fencedWrite(fence, { Put: { TableName: table, Item: item } });
    else await this.#permits.run(() => this.data.send(new this.sdk.PutItemCommand({ TableName: table, Item: item })));
    // After the item, so that a delete that finds the folder empty has read the old Gen.
    await this.#batchWrite(
      folderPrefixes(key).map((folder) => ({
        PutRequest: { Item: { ...folderItemKey(folder), Gen: { S: crypto.randomUUID() } } },
      })),
    );
  }

  async #delete(key: string, fence: Fence | null): Promise<void> {
    const { table } = this.settings;
    const Key = itemKey(key);
    if (fence) await this.#fencedWrite(fence, { Delete: { TableName: table, Key } });
    else await this.#permits.run(() => this.data.send(new this.sdk.DeleteItemCommand({ TableName: table, Key })));
    await this.#pruneFolders(key);
  }

  /** Removes folder markers left empty by deleting `key`, deepest first. */
  async #pruneFolders(key: string): Promise<void> {
    const { table } = this.settings;
    for (const folder of folderPrefixes(key).reverse()) {
      const marker = folderItemKey(folder);
      const { Item } = await this.#permits.run(() =>
        this.data.send(
          new this.sdk.GetItemCommand({
            TableName: table,
            Key: marker,
            ConsistentRead: true,
            ProjectionExpression: "#gen",
            ExpressionAttributeNames: { "#gen": "Gen" },
          }),
        ),
      );
      if (!Item) continue;
      const { Items } = await this.#permits.run(() =>
        this.data.send(
          new this.sdk.QueryCommand({
            TableName: table,
            KeyConditionExpression: "#path = :path",
            ExpressionAttributeNames: { "#path": "Path" },
            ExpressionAttributeValues: { ":path": { S: folder } },
            ConsistentRead: true,
            Limit: 1,
          }),
        ),
      );
      if (Items?.length) return;
      const gen = Item.Gen?.S;
      try {
        await this.#permits.run(() =>
          this.data.send(
            new this.sdk.DeleteItemCommand({
              TableName: table,
              Key: marker,
              ConditionExpression: gen ? "#gen = :gen" : "attribute_exists(#path) AND attribute_not_exists(#gen)",
              ExpressionAttributeNames: gen ? { "#gen": "Gen" } : { "#path": "Path", "#gen": "Gen" },
              ...(gen && { ExpressionAttributeValues: { ":gen": { S: gen } } }),
            }),
          ),
        );
      } catch (error) {
        if (isNamed(error, "ConditionalCheckFailedException")) return; // a put got there first
        throw error;
      }
    }
  }

  /** BatchWriteItem in chunks, retrying UnprocessedItems with backoff (Vault drops them). */
  async #batchWrite(requests: WriteRequest[]): Promise<void> {
    const { table } = this.settings;
    for (let start = 0; start < requests.length; start += BATCH_LIMIT) {
      let pending = requests.slice(start, start + BATCH_LIMIT);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === 10) throw new Error(`DynamoDB left ${pending.length} writes unprocessed after ${attempt} attempts (throttled?)`);
        if (attempt > 0) await this.clock.sleep(backoffMs(attempt));
        const { UnprocessedItems } = await this.#permits.run(() => this.data.send(new this.sdk.BatchWriteItemCommand({ RequestItems: { [table]: pending } })));
        pending = UnprocessedItems?.[table] ?? [];
      }
    }
  }

  async #fencedWrite(fence: Fence, write: TransactWriteItem): Promise<void> {
    const check: TransactWriteItem = {
      ConditionCheck: {
        TableName: this.settings.table,
        Key: lockItemKey(fence.lockKey),
        ConditionExpression: "#epoch = :epoch AND attribute_not_exists(#released)",
        ExpressionAttributeNames: { "#epoch": "Epoch", "#released": "Released" },
        ExpressionAttributeValues: { ":epoch": { N: String(fence.epoch) } },
      },
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#permits.run(() => this.data.send(new this.sdk.TransactWriteItemsCommand({ TransactItems: [check, write] })));
        return;
      } catch (error) {
        if (!isNamed(error, "TransactionCanceledException")) throw error;
        const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        if (reasons[0]?.Code === "ConditionalCheckFailed") {
          throw new FencedError(`write refused: lock "${fence.lockKey}" no longer holds epoch ${fence.epoch} (another node took it, or it was released)`);
        }
        // Lock renewals touch the same record; a conflict says nothing about who holds it.
        if (!reasons.some((r) => r.Code === "TransactionConflict") || attempt === 8) throw error;
        await this.clock.sleep(backoffMs(attempt));
      }
    }
  }
}

/** Splits a storage key into the item's Path and Key, refusing what DynamoDB cannot hold. */
function locate(key: string): { Path: string; Key: string } {
  if (key === "" || key.startsWith("/") || key.endsWith("/")) {
    throw new BackendInputError(`key ${JSON.stringify(key)} must be non-empty and must not start or end with "/"`);
  }
  const slash = key.lastIndexOf("/");
  const path = slash === -1 ? ROOT_PATH : key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (slash !== -1 && path === ROOT_PATH) {
    throw new BackendInputError(`key ${JSON.stringify(key)}: a first segment of a single space is reserved`);
  }
  if (utf8Length(path) > PARTITION_KEY_LIMIT_BYTES || utf8Length(name) + 1 > SORT_KEY_LIMIT_BYTES) {
    throw new BackendInputError(
      `key ${JSON.stringify(key.slice(0, 64))}… is too long for DynamoDB: its parent path may take ${PARTITION_KEY_LIMIT_BYTES} bytes and its last segment ${SORT_KEY_LIMIT_BYTES - 1}`,
    );
  }
  return { Path: path, Key: name };
}

function itemKey(key: string): Record<string, AttributeValue> {
  const { Path, Key } = locate(key);
  return { Path: { S: Path }, Key: { S: Key } };
}

/** The marker that lists `folder` (a key prefix without trailing "/") in its parent. */
function folderItemKey(folder: string): Record<string, AttributeValue> {
  const slash = folder.lastIndexOf("/");
  return {
    Path: { S: slash === -1 ? ROOT_PATH : folder.slice(0, slash) },
    Key: { S: `${folder.slice(slash + 1)}/` },
  };
}

/** "a/b/c" → ["a", "a/b"]. */
function folderPrefixes(key: string): string[] {
  const folders: string[] = [];
  for (let i = key.indexOf("/"); i !== -1; i = key.indexOf("/", i + 1)) folders.push(key.slice(0, i));
  return folders;
}

const encoder = new TextEncoder();
function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
