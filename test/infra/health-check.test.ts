/**
 * The load balancer's health check paths (infra/cdk/strongbox-stack.ts), asked of in-process nodes
 * in each state: only nodes that can serve answer 200, and an uninitialised one only until the
 * stack's `ClusterInitialized` parameter switches to the path without `uninitcode`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HEALTH_CHECK_PATH, HEALTH_CHECK_PATH_BEFORE_INIT } from "../../infra/cdk/strongbox-stack.js";
import type { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";
import { haNode, sealHANodes } from "../helpers/ha-nodes.js";

const fastTimings = { leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 60_000 };

afterEach(sealHANodes);

async function healthCheck(core: Core, path = HEALTH_CHECK_PATH): Promise<number> {
  const response = await createApp({ core, maxRequestSize: 1024 }).fetch(new Request(`http://node.example:8200${path}`));
  return response.status;
}

describe("the load balancer's health check", () => {
  it("passes on the active and on unsealed standbys, and on an uninitialised node before init only; fails sealed and draining nodes", async () => {
    const physical = new InmemBackend();
    const backend = new InmemHABackend(fastTimings);
    const active = haNode("a", physical, backend);
    const standby = haNode("b", physical, backend);
    const sealed = haNode("c", physical, backend);
    // The server's first look at storage (src/seal/initialization-watch.ts); before it, a node answers as sealed.
    await active.initialized();
    expect(await healthCheck(active, HEALTH_CHECK_PATH_BEFORE_INIT)).toBe(200);
    // After ClusterInitialized=true: a node that finds no cluster in storage (empty or wrong bucket) fails.
    expect(await healthCheck(active)).toBe(501);

    const init = await active.initialize({ secret_shares: 1, secret_threshold: 1 });
    const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
    await active.submitUnsealKey(key);
    await waitFor(async () => (active.isActive() ? true : null), 5_000, "node a active");
    await standby.submitUnsealKey(key);

    for (const path of [HEALTH_CHECK_PATH, HEALTH_CHECK_PATH_BEFORE_INIT]) {
      expect(await healthCheck(active, path)).toBe(200);
      expect(await healthCheck(standby, path)).toBe(200);
      expect(await healthCheck(sealed, path)).toBe(503);
    }
    standby.beginDraining();
    expect(await healthCheck(standby)).toBe(503);
  });
});
