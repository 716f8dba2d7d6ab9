/**
 * ZooKeeper (a real ZooKeeper 3.8 started by the global setup): the storage and lock conformance
 * suites, fenced writes, ACLs, and the stanza's checks.
 */
import { afterAll, describe, expect, inject, it } from "vitest";
import { type ZooKeeperBackend, createZooKeeperBackend, zookeeperSettings } from "../../adapters/node/stores/zookeeper.js";
import { type Clock, monotonicClock } from "../../src/physical/ha.js";
import { describeConformance } from "./conformance.js";
import { describeProxiedLockStore } from "./proxied-lock-store.js";

const zookeeperAddress = inject("zookeeperAddress");

const backends: ZooKeeperBackend[] = [];
afterAll(() => {
  for (const backend of backends.splice(0)) backend.close();
});

async function backend(options: Record<string, string>, clock: Clock = monotonicClock): Promise<ZooKeeperBackend> {
  const created = await createZooKeeperBackend({ address: zookeeperAddress, ...options }, {}, clock);
  backends.push(created);
  return created;
}

describeConformance("zookeeper", {
  create: () => backend({ path: `test-${crypto.randomUUID()}/` }),
  valueLimit: { key: "big/blob", maxBytes: 1_000_000 },
});

describeProxiedLockStore({
  name: "zookeeper",
  target: `http://${zookeeperAddress}`,
  addressOf: (endpoint) => new URL(endpoint).host,
  freshPath: (kind) => `${kind}-${crypto.randomUUID()}/`,
  backend,
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
