import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterNode } from "../../tools/local-cluster/node-process.js";
import { ClusterMonitor } from "../../tools/local-cluster/status.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";

const ROOT = "status-rate-root";

describe("the launcher's status: each node's request rate from its sys/metrics", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${ROOT}`]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("shows no rate before two polls, zero when only the launcher asks, more once clients send requests", async () => {
    // A real node process; the monitor reads only these fields of the launcher's node.
    const node = {
      name: "node1",
      pid: server.child.pid,
      running: true,
      apiAddr: server.apiAddr,
      clusterAddr: "https://127.0.0.1:1",
      lastExit: null,
    } as unknown as ClusterNode;
    const monitor = new ClusterMonitor([node], ROOT, () => ({ starting: false, note: "" }));
    expect((await monitor.poll()).nodes[0]).toMatchObject({ state: "active", requestRate: null });
    expect((await monitor.poll()).nodes[0]!.requestRate).toBe(0);
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${server.apiAddr}/v1/secret/data/rate`, { headers: { "x-vault-token": ROOT } });
      expect(response.status).toBe(404);
    }
    expect((await monitor.poll()).nodes[0]!.requestRate).toBeGreaterThan(0);
    expect((await monitor.poll()).nodes[0]!.requestRate).toBe(0);
  });
});
