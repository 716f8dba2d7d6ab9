/**
 * A term can outlast its cluster certificate. Two in-process nodes over real TLS sockets: the
 * active re-issues its certificate at two thirds of its (here: 3 s) lifetime, and a standby keeps
 * forwarding after the first certificate has expired instead of falling back to redirects.
 */
import { afterEach, expect, it } from "vitest";
import { ClusterListeners } from "../../adapters/node/server/cluster-listener.js";
import { ClusterForwarder } from "../../adapters/node/server/forwarder.js";
import { Core } from "../../src/core.js";
import { BoundAddresses } from "../../src/ha/addresses.js";
import { createApp } from "../../src/http/app.js";
import { silentLogger } from "../../src/sdk/logger.js";
import { monotonicClock } from "../../src/physical/ha.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";
import { freeFixedPort } from "../helpers/free-port.js";

const VALIDITY_MS = 3_000;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function node(name: string, store: InmemHABackend) {
  const clusterPort = await freeFixedPort();
  const forwarder = new ClusterForwarder();
  let listeners: ClusterListeners | undefined;
  const core = new Core({
    physical: store,
    storageType: "inmem_ha",
    ha: {
      backend: store,
      nodeId: name,
      hostname: name,
      addresses: BoundAddresses.of({ apiAddr: `http://${name}.example:8200`, clusterAddr: `https://127.0.0.1:${clusterPort}` }),
      forwarder,
      identityValidityMs: VALIDITY_MS,
      onActive: (advertisement) => void listeners?.start(advertisement),
      onStandby: () => void listeners?.stop(),
    },
  });
  const app = createApp({ core, maxRequestSize: 1 << 20 });
  listeners = new ClusterListeners([`127.0.0.1:${clusterPort}`], app.fetch, core.leadership!, silentLogger);
  stops.push(async () => {
    await core.seal();
    await listeners!.stop();
    forwarder.close();
  });
  return { core, app };
}

it("re-issues the cluster certificate within a term; standbys keep forwarding past the first one's expiry", async () => {
  const store = new InmemHABackend({ leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 10_000 });
  const a = await node("a", store);
  const init = await a.core.initialize({ secret_shares: 1, secret_threshold: 1 });
  const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
  await a.core.submitUnsealKey(key);
  await waitFor(async () => (a.core.isActive() ? true : null), 5_000, "a active");
  const b = await node("b", store.node(monotonicClock));
  await b.core.submitUnsealKey(key);

  const first = (await a.core.leader()).advertisement!;
  const firstExpiry = Date.now() + VALIDITY_MS;
  const viaStandby = () => b.app.fetch(new Request("http://b.example:8200/v1/sys/mounts", { headers: { "x-vault-token": init.root_token } }));
  expect((await viaStandby()).status).toBe(200);

  const renewed = await waitFor(
    async () => {
      const current = (await a.core.leader()).advertisement!;
      return current.cluster_cert !== first.cluster_cert ? current : null;
    },
    10_000,
    "a re-issued certificate",
  );
  expect(renewed.epoch).toBe(first.epoch);
  await waitFor(async () => (Date.now() > firstExpiry + 200 ? true : null), 10_000, "the first certificate expired");

  const response = await viaStandby();
  expect(response.status).toBe(200);
  expect(b.core.leadership!.forwarding.fallbacks).toBe(0);
});
