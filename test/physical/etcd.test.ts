/**
 * etcd (a real etcd 3.4 started by the global setup): the storage and lock conformance suites,
 * fenced writes, and the stanza's checks.
 */
import { describe, expect, inject, it } from "vitest";
import { ConfigError } from "../../src/config/types.js";
import { EtcdBackend, etcdDriver, etcdSettings } from "../../src/physical/etcd.js";
import { fetchTransport } from "../../src/physical/etcd-client.js";
import { type Clock, monotonicClock } from "../../src/physical/ha.js";
import { describeConformance } from "./conformance.js";
import { describeProxiedLockStore } from "./proxied-lock-store.js";

const etcdEndpoint = inject("etcdEndpoint");

function backend(options: Record<string, string>, clock: Clock = monotonicClock): EtcdBackend {
  return new EtcdBackend(etcdSettings({ address: etcdEndpoint, ...options }, {}), fetchTransport, clock);
}

describeConformance("etcd", {
  create: async () => backend({ path: `/test-${crypto.randomUUID()}/` }),
  valueLimit: { key: "big/blob", maxBytes: 1024 * 1024 },
});

describeProxiedLockStore({
  name: "etcd",
  target: etcdEndpoint,
  addressOf: (endpoint) => endpoint,
  freshPath: (kind) => `/${kind}-${crypto.randomUUID()}/`,
  backend,
});

describe("etcd stanza", () => {
  it("reads Vault's keys, with the environment winning", () => {
    const settings = etcdSettings(
      {
        address: "http://10.0.0.1:2379, https://10.0.0.2:2379/",
        path: "strongbox",
        request_timeout: "2s",
        lock_timeout: "3s",
        max_receive_size: "1048576",
        username: "u",
      },
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
