/**
 * The HA lock against DynamoDB Local: the lease record suite with a fault proxy in front of
 * DynamoDB for each node, fenced writes, and no lock without ha_enabled.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { createDynamoDBBackend } from "../../src/physical/dynamodb.js";
import { isHABackend } from "../../src/physical/ha.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { expectFencedWrites } from "./fenced-writes.js";
import { leaseStoreConformance } from "./lease-store-conformance.js";
import { TestClock } from "./lock-conformance.js";

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

async function nodeOptions(): Promise<{ proxy: FaultProxy; options: Record<string, string> }> {
  const proxy = await startFaultProxy(dynamodbEndpoint);
  proxies.push(proxy);
  const options = {
    table,
    endpoint: proxy.endpoint,
    access_key: "test",
    secret_key: "test",
    ha_enabled: "true",
    ha_lease_duration: `${timings.leaseMs}ms`,
    ha_renew_interval: `${timings.renewIntervalMs}ms`,
    ha_retry_interval: `${timings.retryIntervalMs}ms`,
  };
  return { proxy, options };
}

leaseStoreConformance("dynamodb", async () => {
  const { proxy, options } = await nodeOptions();
  return { proxy, node: await createDynamoDBBackend(options, {}) };
});

describe("dynamodb HA lock, fencing", () => {
  it("rejects an ex-holder's fenced writes once another node holds the lock", async () => {
    const clockA = new TestClock(0);
    const a = await createDynamoDBBackend((await nodeOptions()).options, {}, clockA);
    const b = await createDynamoDBBackend((await nodeOptions()).options, {}, new TestClock(0));
    // The lock item shares the table with the data, under its own key.
    await expectFencedWrites({ a, b, clockA, lockKey: `core/lock-${crypto.randomUUID()}` }, { lockOutsideData: false });
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
