/**
 * The HA tests etcd and ZooKeeper share: each node reaches the real store through a fault proxy of
 * its own (so the lease record suite can cut one node off), fenced writes between two nodes,
 * and no lock without `ha_enabled`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Clock, isHABackend } from "../../src/physical/ha.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { expectFencedWrites, type FencedStore } from "./fenced-writes.js";
import { type LeaseRecords, leaseStoreConformance } from "./lease-store-conformance.js";
import { TestClock } from "./lock-conformance.js";

export interface ProxiedLockStore {
  name: string;
  /** Where the store listens, as a proxy target ("http://host:port"). */
  target: string;
  /** The stanza's `address` for a proxy at `endpoint`. */
  addressOf(endpoint: string): string;
  /** A fresh key prefix in the store's own syntax, starting with `kind`. */
  freshPath(kind: string): string;
  backend(options: Record<string, string>, clock?: Clock): (FencedStore & LeaseRecords) | Promise<FencedStore & LeaseRecords>;
}

const timings = { leaseMs: 2400, renewIntervalMs: 300, retryIntervalMs: 150 };

export function describeProxiedLockStore(store: ProxiedLockStore): void {
  let proxies: FaultProxy[] = [];
  afterEach(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    proxies = [];
  });

  async function proxiedNode(path: string, clock: Clock): Promise<{ proxy: FaultProxy; node: FencedStore & LeaseRecords }> {
    const proxy = await startFaultProxy(store.target);
    proxies.push(proxy);
    const node = await store.backend(
      {
        address: store.addressOf(proxy.endpoint),
        path,
        ha_lease_duration: `${timings.leaseMs}ms`,
        ha_renew_interval: `${timings.renewIntervalMs}ms`,
        ha_retry_interval: `${timings.retryIntervalMs}ms`,
      },
      clock,
    );
    return { proxy, node };
  }

  const lockPath = store.freshPath("lock");
  leaseStoreConformance(store.name, () => proxiedNode(lockPath, new TestClock(0)));

  describe(`${store.name} HA lock, fencing`, () => {
    it("rejects an ex-holder's fenced writes once another node holds the lock", async () => {
      const path = store.freshPath("fence");
      const clockA = new TestClock(0);
      const a = (await proxiedNode(path, clockA)).node;
      const b = (await proxiedNode(path, new TestClock(0))).node;
      await expectFencedWrites({ a, b, clockA, lockKey: "core/lock" }, { lockOutsideData: true });
    });

    it("offers no lock when HA is not enabled", async () => {
      const disabled = await store.backend({ path: store.freshPath("x"), ha_enabled: "false" });
      expect(isHABackend(disabled)).toBe(false);
      expect(() => disabled.lockWith("core/lock", "x")).toThrow(/ha_enabled/);
      expect(isHABackend(await store.backend({ path: store.freshPath("x") }))).toBe(true);
    });
  });
}
