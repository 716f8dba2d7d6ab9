import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Clock } from "./ha.js";
import type { LockLeaseRecord, LockLeaseStore } from "./lease.js";
import { leaseRecordFromItem, lockItemKey } from "./dynamodb-lock-item.js";

type Sdk = typeof import("@aws-sdk/client-dynamodb");

/** The lease's record operations (lease.ts has the algorithm) as conditional writes on the lock item. */
export class DynamoDBLeaseStore implements LockLeaseStore {
  readonly #key: Record<string, AttributeValue>;

  constructor(
    private readonly sdk: Sdk,
    private readonly client: DynamoDBClient,
    private readonly table: string,
    lockKey: string,
    private readonly clock: Clock,
  ) {
    this.#key = lockItemKey(lockKey);
  }

  async read(signal: AbortSignal): Promise<LockLeaseRecord | null> {
    const { Item } = await this.client.send(new this.sdk.GetItemCommand({ TableName: this.table, Key: this.#key, ConsistentRead: true }), {
      abortSignal: signal,
    });
    return Item ? leaseRecordFromItem(Item) : null;
  }

  claim(record: { version: string; epoch: number; value: string }, expected: string | null, signal: AbortSignal): Promise<boolean> {
    const command = new this.sdk.PutItemCommand({
      TableName: this.table,
      Item: {
        ...this.#key,
        Value: { S: record.value },
        Epoch: { N: String(record.epoch) },
        RecordVersion: { S: record.version },
      },
      ...(expected === null
        ? { ConditionExpression: "attribute_not_exists(#path)", ExpressionAttributeNames: { "#path": "Path" } }
        : {
            ConditionExpression: "#version = :expected",
            ExpressionAttributeNames: { "#version": "RecordVersion" },
            ExpressionAttributeValues: { ":expected": { S: expected } },
          }),
    });
    return this.#conditional(() => this.client.send(command, { abortSignal: signal }), signal);
  }

  renew(expected: string[], next: string, signal: AbortSignal): Promise<boolean> {
    return this.#update("SET #version = :next", expected, next, signal);
  }

  release(expected: string[], next: string, signal: AbortSignal): Promise<boolean> {
    return this.#update("SET #version = :next, #released = :true REMOVE #value", expected, next, signal);
  }

  #update(update: string, expected: string[], next: string, signal: AbortSignal): Promise<boolean> {
    const names: Record<string, string> = { "#version": "RecordVersion" };
    const values: Record<string, AttributeValue> = { ":next": { S: next } };
    if (update.includes("#released")) {
      Object.assign(names, { "#released": "Released", "#value": "Value" });
      values[":true"] = { BOOL: true };
    }
    expected.forEach((version, i) => (values[`:expected${i}`] = { S: version }));
    const command = new this.sdk.UpdateItemCommand({
      TableName: this.table,
      Key: this.#key,
      UpdateExpression: update,
      ConditionExpression: `#version IN (${expected.map((_, i) => `:expected${i}`).join(", ")})`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
    return this.#conditional(() => this.client.send(command, { abortSignal: signal }), signal);
  }

  /** Sends a conditional write: false when its condition fails, retrying transaction conflicts. */
  async #conditional(send: () => Promise<unknown>, signal: AbortSignal): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await send();
        return true;
      } catch (error) {
        if (isNamed(error, "ConditionalCheckFailedException")) return false;
        // A fenced write's ConditionCheck on this record is in flight; it is over in milliseconds.
        if (!isNamed(error, "TransactionConflictException")) throw error;
        await this.clock.sleep(Math.min(backoffMs(attempt), 50), signal);
      }
    }
  }
}

export function backoffMs(attempt: number): number {
  return Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}
