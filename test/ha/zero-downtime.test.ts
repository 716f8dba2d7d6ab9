import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Cluster, waitFor } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";
import { Writers } from "../helpers/writers.js";

/** Short enough to space three step-downs past it quickly. */
const COOLDOWN_MS = 4_000;
/**
 * A longer lease than the default 1.5 s: on a loaded machine an event-loop stall past two thirds of
 * the lease ends the active's term mid-request (a lost lock, not the handover under test).
 */
const LOCK_TIMINGS = { ha_lease_duration: "3s", ha_renew_interval: "500ms" };

/** Every key holds the last value its client saw acknowledged. */
async function expectNoLostWrites(writers: Writers): Promise<void> {
  expect(writers.acknowledged.size).toBe(writers.clients);
  expect(await writers.lostWrites()).toEqual([]);
}

/** Three real nodes (S3 data, DynamoDB Local lock), clients writing through all of them. */
describe("leadership changes that no client notices", () => {
  let cluster: Cluster;
  const running = () => cluster.nodes.filter((n) => n.process);

  beforeAll(async () => {
    ({ cluster } = await startKvCluster({ lockOptions: { ...LOCK_TIMINGS, ha_step_down_cooldown: `${COOLDOWN_MS}ms` } }));
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("fails no request and loses no write while the active steps down three times", async () => {
    const writers = new Writers(cluster, running());
    try {
      for (let round = 0; round < 3; round++) {
        await writers.moreWrites(20);
        const before = await cluster.waitForActive();
        const steppedDownAt = Date.now();
        expect((await api(before, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
        await cluster.waitForActive({ not: before });
        // Space the next step-down past this one's cool-down, with writes going on all along.
        await waitFor(async () => (Date.now() - steppedDownAt > COOLDOWN_MS ? true : null), 30_000, "the cool-down to pass");
      }
      await writers.moreWrites(20);
    } finally {
      await writers.stop();
    }
    expect(writers.failures).toEqual([]);
    await expectNoLostWrites(writers);
  }, 60_000);

  it("fails no request on the nodes that stay up and loses no write through a rolling SIGTERM restart", async () => {
    // The restarted nodes get a long cool-down, for the next test.
    cluster.lockOptions.ha_step_down_cooldown = "60s";
    const writers = new Writers(cluster, running());
    try {
      const active = await cluster.waitForActive();
      for (const node of [...running().filter((n) => n !== active), active]) {
        await writers.moreWrites(10);
        await writers.avoid(node);
        expect(await node.process!.stop(20_000)).toBe(0);
        await cluster.start(node);
        await cluster.unseal(node);
        writers.include(node);
      }
      await writers.moreWrites(10);
    } finally {
      await writers.stop();
    }
    expect(writers.failures).toEqual([]);
    await expectNoLostWrites(writers);
  }, 90_000);

  it("has an active again within about a lease after three step-downs within the cool-down", async () => {
    let active = await cluster.waitForActive();
    for (let round = 0; round < 3; round++) {
      expect((await api(active, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
      // Every node stepped down within its 60 s cool-down after the third: the lock must not stay free.
      // The lease is 3 s; the bound leaves slack for a loaded machine and stays far below the cool-down.
      active = await cluster.waitForActive({ timeoutMs: 12_000 });
    }
  }, 40_000);
});
