/**
 * ZooKeeper (a real ZooKeeper 3.8 started by the global setup): the storage and lock conformance
 * suites, fenced writes, ACLs, and the stanza's checks.
 */
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { type ZooKeeperBackend, createZooKeeperBackend, zookeeperSettings } from "../../adapters/node/zookeeper.js";
import { type Clock, isHABackend, monotonicClock } from "../../src/physical/ha.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { describeConformance } from "./conformance.js";
import { expectFencedWrites } from "./fenced-writes.js";
import { TestClock, lockConformance } from "./lock-conformance.js";

const zookeeperAddress = inject("zookeeperAddress");
const timings = { leaseMs: 2400, renewIntervalMs: 300, retryIntervalMs: 150 };

const backends: ZooKeeperBackend[] = [];
let proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  proxies = [];
});
afterAll(() => {
  for (const backend of backends.splice(0)) backend.close();
});

async function backend(options: Record<string, string>, clock: Clock = monotonicClock): Promise<ZooKeeperBackend> {
  const created = await createZooKeeperBackend({ address: zookeeperAddress, ...options }, {}, clock);
  backends.push(created);
  return created;
}

async function proxiedNode(path: string, clock: Clock, lock = timings): Promise<{ proxy: FaultProxy; node: ZooKeeperBackend }> {
  const proxy = await startFaultProxy(`http://${zookeeperAddress}`);
  proxies.push(proxy);
  const node = await backend(
    {
      address: new URL(proxy.endpoint).host,
      path,
      ha_lease_duration: `${lock.leaseMs}ms`,
      ha_renew_interval: `${lock.renewIntervalMs}ms`,
      ha_retry_interval: `${lock.retryIntervalMs}ms`,
    },
    clock,
  );
  return { proxy, node };
}

describeConformance("zookeeper", {
  create: () => backend({ path: `test-${crypto.randomUUID()}/` }),
  valueLimit: { key: "big/blob", maxBytes: 1_000_000 },
});

const lockPath = `lock-${crypto.randomUUID()}/`;
lockConformance(
  "zookeeper",
  async (clock, lock, faults) => {
    const { proxy, node } = await proxiedNode(lockPath, clock, lock);
    faults.onChange((mode) => proxy.setMode(mode));
    return node;
  },
  { timings },
);

describe("zookeeper HA lock, fencing", () => {
  it("rejects an ex-holder's fenced writes once another node holds the lock", async () => {
    const path = `fence-${crypto.randomUUID()}/`;
    const clockA = new TestClock(0);
    const a = (await proxiedNode(path, clockA)).node;
    const b = (await proxiedNode(path, new TestClock(0))).node;
    await expectFencedWrites({ a, b, clockA, lockKey: "core/lock" }, { lockOutsideData: true });
  });

  it("offers no lock when HA is not enabled", async () => {
    const disabled = await backend({ path: `x-${crypto.randomUUID()}/`, ha_enabled: "false" });
    expect(isHABackend(disabled)).toBe(false);
    expect(() => disabled.lockWith("core/lock", "x")).toThrow(/ha_enabled/);
  });
});

describe("zookeeper stanza", () => {
  it("gives znode_owner every permission: only a session with matching auth_info can read", async () => {
    // digest ids are user:base64(sha1("user:password")).
    const digest = Buffer.from(await crypto.subtle.digest("SHA-1", new TextEncoder().encode("strongbox:s3cret"))).toString("base64");
    const path = `acl-${crypto.randomUUID()}`;
    const owned = { path, znode_owner: `digest:strongbox:${digest}` };
    const owner = await backend({ ...owned, auth_info: "digest:strongbox:s3cret" });
    await owner.put("k", new TextEncoder().encode("v"));
    expect(new TextDecoder().decode((await owner.get("k"))!)).toBe("v");
    const stranger = await backend({ ...owned, auth_info: "digest:strongbox:wrong" });
    await expect(stranger.get("k")).rejects.toThrow(/NO_AUTH/);
  });

  it("reads Vault's keys and refuses what it cannot do, naming the key", () => {
    expect(zookeeperSettings({ address: "zk1:2181, zk2:2181", path: "/strongbox/" }, {})).toMatchObject({
      connection: { addresses: "zk1:2181,zk2:2181" },
      root: "/strongbox",
      haEnabled: true,
      lock: { leaseMs: 1500 },
    });
    expect(zookeeperSettings({}, {})).toMatchObject({ connection: { addresses: "localhost:2181" }, root: "/vault" });
    expect(() => zookeeperSettings({ address: "http://zk:2181" }, {})).toThrow(/not host:port/);
    expect(() => zookeeperSettings({ path: "a/../b" }, {})).toThrow(/not a znode path/);
    expect(() => zookeeperSettings({ auth_info: "nocolon" }, {})).toThrow(/auth_info must be "scheme:secret"/);
  });
});
