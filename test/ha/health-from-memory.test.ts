import { afterEach, describe, expect, inject, it } from "vitest";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import type { Backend } from "../../src/physical/backend.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { silentLogger } from "../../src/sdk/logger.js";
import { watchInitialization } from "../../src/seal/initialization-watch.js";
import { createS3Backend } from "../../src/physical/s3.js";
import { waitFor } from "../helpers/cluster.js";
import { type CountingProxy, startCountingProxy } from "../helpers/counting-proxy.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { haNode, sealHANodes } from "../helpers/ha-nodes.js";

/** Each storage request takes this long while storage is slow: a probe that waited for one could not answer in PROBE_LIMIT_MS. */
const SLOW_STORAGE_MS = 5_000;
/** Far above an in-memory answer, far below a storage round trip in the slow phase. */
const PROBE_LIMIT_MS = 1_000;
const PROBES = 10;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await sealHANodes();
  for (const close of closers.splice(0).reverse()) await close();
});

/** S3 under `prefix`, reached through its own counting proxy and the shared fault proxy. */
async function s3Through(fault: FaultProxy, prefix: string): Promise<{ physical: Backend; proxy: CountingProxy }> {
  const proxy = await startCountingProxy(fault.endpoint);
  closers.push(() => proxy.close());
  const physical = await createS3Backend(
    { bucket: inject("s3Bucket"), endpoint: proxy.endpoint, s3_force_path_style: "true", access_key: "test", secret_key: "test", path: prefix },
    {},
  );
  return { physical, proxy };
}

/** sys/health's status, failing the test if it takes PROBE_LIMIT_MS or more. */
async function probe(core: Core, query = ""): Promise<number> {
  const app = createApp({ core, maxRequestSize: 1024 });
  const answer = app.fetch(new Request(`http://node.example:8200/v1/sys/health${query}`));
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`sys/health took ${PROBE_LIMIT_MS} ms or more`)), PROBE_LIMIT_MS));
  return (await Promise.race([answer, late])).status;
}

describe("sys/health answers from memory", () => {
  it("gives each node its code without a storage request, with storage working, slow or failing", async () => {
    const fault = await startFaultProxy(inject("s3Endpoint"));
    closers.push(() => fault.close());
    const prefix = `health-${crypto.randomUUID()}`;
    // A lease long enough that a stall on a loaded machine does not end the active's term mid-test.
    const lock = new InmemHABackend({ leaseMs: 5_000, renewIntervalMs: 500, retryIntervalMs: 100, stepDownCooldownMs: 60_000 });
    const [active, standby, sealed] = await Promise.all([1, 2, 3].map(() => s3Through(fault, prefix)));
    const uninitialised = await s3Through(fault, `health-${crypto.randomUUID()}`);
    const nodes = {
      active: haNode("active", active!.physical, lock),
      standby: haNode("standby", standby!.physical, lock),
      sealed: haNode("sealed", sealed!.physical, lock),
      uninitialised: new Core({ physical: uninitialised.physical, storageType: "s3" }),
    };
    const init = await nodes.active.initialize({ secret_shares: 1, secret_threshold: 1 });
    const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
    await nodes.active.submitUnsealKey(key);
    await waitFor(async () => (nodes.active.isActive() ? true : null), 10_000, "the first node to become active");
    await nodes.standby.submitUnsealKey(key);
    // The sealed node learns the cluster is initialised the way a restarted node does.
    const stopWatching = watchInitialization(nodes.sealed, silentLogger);
    await waitFor(async () => (nodes.sealed.knownInitialized ? true : null), 10_000, "the sealed node to see the cluster initialised");
    stopWatching();
    // As a sys/init read would; a node that never heard from storage is the next test's.
    expect(await nodes.uninitialised.initialized()).toBe(false);

    const expectCodesWithoutStorage = async (phase: string) => {
      const before = [active, standby, sealed, uninitialised].map((node) => node!.proxy.counts());
      for (let i = 0; i < PROBES; i++) {
        expect([phase, await probe(nodes.active)]).toEqual([phase, 200]);
        expect([phase, await probe(nodes.standby)]).toEqual([phase, 429]);
        expect([phase, await probe(nodes.standby, "?standbyok=true")]).toEqual([phase, 200]);
        expect([phase, await probe(nodes.sealed)]).toEqual([phase, 503]);
        expect([phase, await probe(nodes.uninitialised)]).toEqual([phase, 501]);
      }
      const after = [active, standby, sealed, uninitialised].map((node) => node!.proxy.counts());
      const added = (i: number, kind?: string) =>
        Object.entries(after[i]!).reduce((sum, [k, n]) => (kind === undefined || k === kind ? sum + n - (before[i]![k] ?? 0) : sum), 0);
      // The active lists token expiries in the background every few seconds; a probe would GET.
      expect({ phase, active: added(0, "GET"), standby: added(1), sealed: added(2), uninitialised: added(3) }).toEqual({
        phase,
        active: 0,
        standby: 0,
        sealed: 0,
        uninitialised: 0,
      });
    };

    await expectCodesWithoutStorage("storage working");
    for (const node of [active, standby, sealed, uninitialised]) node!.proxy.setLatency(SLOW_STORAGE_MS);
    await expectCodesWithoutStorage("storage slow");
    for (const node of [active, standby, sealed, uninitialised]) node!.proxy.setLatency(0);
    fault.setMode("reset");
    await expectCodesWithoutStorage("storage failing");
    fault.setMode("pass");
  }, 60_000);

  it("answers as sealed, not uninitialised, until storage first answers", async () => {
    const fault = await startFaultProxy(inject("s3Endpoint"));
    closers.push(() => fault.close());
    const { physical } = await s3Through(fault, `health-${crypto.randomUUID()}`);
    fault.setMode("blackhole");
    const core = new Core({ physical, storageType: "s3" });
    const stopWatching = watchInitialization(core, silentLogger);
    closers.push(async () => stopWatching());
    const app = createApp({ core, maxRequestSize: 1024 });
    const answer = await app.fetch(new Request("http://node.example:8200/v1/sys/health?uninitcode=200"));
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ initialized: false, sealed: true });
  });

  it("learns in the background that another node initialised the cluster", async () => {
    const physical = new InmemBackend();
    const watching = new Core({ physical, storageType: "inmem" });
    const stopWatching = watchInitialization(watching, silentLogger);
    closers.push(async () => stopWatching());
    await waitFor(async () => ((await probe(watching)) === 501 ? true : null), 10_000, "the watching node to see the cluster uninitialised");
    await new Core({ physical, storageType: "inmem" }).initialize({ secret_shares: 1, secret_threshold: 1 });
    // Initialised elsewhere, and this node is still sealed.
    await waitFor(async () => ((await probe(watching)) === 503 ? true : null), 10_000, "the watching node to report sealed (initialised)");
  });
});
