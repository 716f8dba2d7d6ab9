/**
 * The HA lock against DynamoDB Local: the generic lock suite with a fault proxy in front of
 * DynamoDB for each node, plus what only DynamoDB does (fenced writes, ha_enabled).
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { createDynamoDBBackend } from "../../src/physical/dynamodb.js";
import { FencedError, isHABackend } from "../../src/physical/ha.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { TestClock, lockConformance } from "./lock-conformance.js";

const dynamodbEndpoint = inject("dynamodbEndpoint");
// Roomy enough that a renewal round (deadline: 2/3 of the lease) survives a loaded 2-core CI
// machine running DynamoDB Local and node processes beside these tests.
const timings = { leaseMs: 2400, renewIntervalMs: 300, retryIntervalMs: 150 };
const table = `lock-${crypto.randomUUID()}`;

let proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  proxies = [];
});

async function nodeOptions(lock = timings): Promise<{ proxy: FaultProxy; options: Record<string, string> }> {
  const proxy = await startFaultProxy(dynamodbEndpoint);
  proxies.push(proxy);
  const options = {
    table,
    endpoint: proxy.endpoint,
    access_key: "test",
    secret_key: "test",
    ha_enabled: "true",
    ha_lease_duration: `${lock.leaseMs}ms`,
    ha_renew_interval: `${lock.renewIntervalMs}ms`,
    ha_retry_interval: `${lock.retryIntervalMs}ms`,
  };
  return { proxy, options };
}

lockConformance(
  "dynamodb",
  async (clock, lock, faults) => {
    const { proxy, options } = await nodeOptions(lock);
    faults.onChange((mode) => proxy.setMode(mode));
    return createDynamoDBBackend(options, {}, clock);
  },
  { timings },
);

describe("dynamodb HA lock, fencing", () => {
  it("rejects an ex-holder's fenced writes once another node holds the lock", async () => {
    const lockKey = `core/lock-${crypto.randomUUID()}`;
    const clockA = new TestClock(0);
    const a = await createDynamoDBBackend((await nodeOptions()).options, {}, clockA);
    const b = await createDynamoDBBackend((await nodeOptions()).options, {}, new TestClock(0));
    const holdA = await a.lockWith(lockKey, "a").acquire();
    const storageA = a.fencedBy(lockKey, holdA.epoch);
    await storageA.put("sys/config", new TextEncoder().encode("from A"));

    const contending = b.lockWith(lockKey, "b").acquire();
    clockA.pause(); // A stalls, but its network still works: the worst case for late writes
    const holdB = await contending;
    expect(holdA.held()).toBe(false);
    const storageB = b.fencedBy(lockKey, holdB.epoch);

    await expect(storageA.put("sys/config", new TextEncoder().encode("late A"))).rejects.toThrow(FencedError);
    await expect(storageA.delete("sys/config")).rejects.toThrow(FencedError);
    expect(new TextDecoder().decode((await storageA.get("sys/config"))!)).toBe("from A");
    expect(await storageA.list("sys/")).toEqual(["config"]);

    await storageB.put("sys/config", new TextEncoder().encode("from B"));
    expect(new TextDecoder().decode((await storageB.get("sys/config"))!)).toBe("from B");
    await holdB.release();
    // Released: no epoch may write any more.
    await expect(storageB.put("sys/config", new TextEncoder().encode("after release"))).rejects.toThrow(
      new RegExp(`no longer holds epoch ${holdB.epoch}`),
    );
    clockA.resume();
  });

  it("offers no lock when HA is not enabled", async () => {
    const backend = await createDynamoDBBackend(
      { table: `lock-${crypto.randomUUID()}`, endpoint: dynamodbEndpoint, access_key: "test", secret_key: "test", ha_enabled: "false" },
      {},
    );
    expect(isHABackend(backend)).toBe(false);
    expect(() => backend.lockWith("core/lock", "x")).toThrow(/ha_enabled/);
    const enabled = await createDynamoDBBackend((await nodeOptions()).options, {});
    expect(isHABackend(enabled)).toBe(true);
  });
});
