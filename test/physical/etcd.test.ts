/**
 * etcd (a real etcd 3.4 started by the global setup): the storage and lock conformance suites,
 * fenced writes, and the stanza's checks.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { ConfigError } from "../../src/config/types.js";
import { EtcdBackend, etcdDriver, etcdSettings } from "../../src/physical/etcd.js";
import { fetchTransport } from "../../src/physical/etcd-client.js";
import { type Clock, isHABackend, monotonicClock } from "../../src/physical/ha.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { describeConformance } from "./conformance.js";
import { expectFencedWrites } from "./fenced-writes.js";
import { TestClock, lockConformance } from "./lock-conformance.js";

const etcdEndpoint = inject("etcdEndpoint");
const timings = { leaseMs: 2400, renewIntervalMs: 300, retryIntervalMs: 150 };

let proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  proxies = [];
});

function backend(options: Record<string, string>, clock: Clock = monotonicClock): EtcdBackend {
  return new EtcdBackend(etcdSettings({ address: etcdEndpoint, ...options }, {}), fetchTransport, clock);
}

async function proxiedNode(path: string, clock: Clock, lock = timings): Promise<{ proxy: FaultProxy; node: EtcdBackend }> {
  const proxy = await startFaultProxy(etcdEndpoint);
  proxies.push(proxy);
  const node = backend(
    {
      address: proxy.endpoint,
      path,
      ha_lease_duration: `${lock.leaseMs}ms`,
      ha_renew_interval: `${lock.renewIntervalMs}ms`,
      ha_retry_interval: `${lock.retryIntervalMs}ms`,
    },
    clock,
  );
  return { proxy, node };
}

describeConformance("etcd", {
  create: async () => backend({ path: `/test-${crypto.randomUUID()}/` }),
  valueLimit: { key: "big/blob", maxBytes: 1024 * 1024 },
});

const lockPath = `/lock-${crypto.randomUUID()}/`;
lockConformance(
  "etcd",
  async (clock, lock, faults) => {
    const { proxy, node } = await proxiedNode(lockPath, clock, lock);
    faults.onChange((mode) => proxy.setMode(mode));
    return node;
  },
  { timings },
);

describe("etcd HA lock, fencing", () => {
  it("rejects an ex-holder's fenced writes once another node holds the lock", async () => {
    const path = `/fence-${crypto.randomUUID()}/`;
    const clockA = new TestClock(0);
    const a = (await proxiedNode(path, clockA)).node;
    const b = (await proxiedNode(path, new TestClock(0))).node;
    await expectFencedWrites({ a, b, clockA, lockKey: "core/lock" }, { lockOutsideData: true });
  });

  it("offers no lock when HA is not enabled", async () => {
    const disabled = backend({ path: `/x-${crypto.randomUUID()}/`, ha_enabled: "false" });
    expect(isHABackend(disabled)).toBe(false);
    expect(() => disabled.lockWith("core/lock", "x")).toThrow(/ha_enabled/);
    expect(isHABackend(backend({ path: `/x-${crypto.randomUUID()}/` }))).toBe(true);
  });
});

describe("etcd stanza", () => {
  it("reads Vault's keys, with the environment winning", () => {
    const settings = etcdSettings(
      { address: "http://10.0.0.1:2379, https://10.0.0.2:2379/", path: "strongbox", request_timeout: "2s", lock_timeout: "3s", max_receive_size: "1048576", username: "u" },
      { ETCD_PASSWORD: "p" },
    );
    expect(settings).toMatchObject({
      addresses: ["http://10.0.0.1:2379", "https://10.0.0.2:2379"],
      path: "/strongbox/",
      requestTimeoutMs: 2000,
      maxReceiveBytes: 1048576,
      username: "u",
      password: "p",
      haEnabled: true,
      lock: { leaseMs: 3000 },
    });
    expect(etcdSettings({}, {})).toMatchObject({ addresses: ["http://127.0.0.1:2379"], path: "/vault/", lock: { leaseMs: 1500 } });
  });

  it("refuses the v2 API, bad addresses and TLS files without the Node server, naming the key", async () => {
    expect(() => etcdSettings({ etcd_api: "v2" }, {})).toThrow(/storage "etcd": etcd_api = "v2" is not supported/);
    expect(() => etcdSettings({ address: "127.0.0.1:2379" }, {})).toThrow(ConfigError);
    expect(() => etcdSettings({ address: "http://h:2379/prefix" }, {})).toThrow(/without a path/);
    expect(() => etcdSettings({ max_receive_size: "-1" }, {})).toThrow(/max_receive_size/);
    await expect(etcdDriver.create({ tls_ca_file: "/ca.pem" }, {})).rejects.toThrow(/need the Node server/);
  });

  it("names every address when none answers", async () => {
    const unreachable = backend({ address: "http://127.0.0.1:1,http://127.0.0.1:2", request_timeout: "2s" });
    await expect(unreachable.get("k")).rejects.toThrow(/no etcd address answered \(http:\/\/127.0.0.1:1, http:\/\/127.0.0.1:2\)/);
  });

  it("uses the next address when the first is down", async () => {
    const path = `/multi-${crypto.randomUUID()}/`;
    const twoAddresses = backend({ address: `http://127.0.0.1:1,${etcdEndpoint}`, path });
    await twoAddresses.put("k", new TextEncoder().encode("v"));
    expect(new TextDecoder().decode((await backend({ path }).get("k"))!)).toBe("v");
  });
});
