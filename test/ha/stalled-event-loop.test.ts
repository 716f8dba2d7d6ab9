import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Cluster, type ClusterNode, waitFor } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";

/** Twice the default lease, so a lock store slowed by a loaded machine costs no term by itself. */
const LEASE_MS = 3_000;
const STALL_TIMEOUT_MS = 14_000;

/**
 * Two real nodes with data and lock in DynamoDB Local (so the active's writes are fenced on its
 * epoch). A test hook (STRONGBOX_TEST_HOOKS) busy-waits a node's main event loop on SIGUSR2, as a
 * large request body being parsed would: the lock, renewed from its own thread, must not notice
 * unless the stall outlasts ha_stall_timeout.
 */
describe("HA lock while the active's main event loop is stalled", () => {
  const hooksDir = mkdtempSync(join(tmpdir(), "strongbox-hooks-"));
  const hooksFile = (node: { index: number }) => join(hooksDir, `node${node.index}.json`);
  let cluster: Cluster;
  let active: ClusterNode;

  beforeAll(async () => {
    ({ cluster, active } = await startKvCluster({
      size: 2,
      storage: "dynamodb",
      lockOptions: { ha_lease_duration: `${LEASE_MS}ms`, ha_renew_interval: "1s", ha_retry_interval: "500ms", ha_stall_timeout: `${STALL_TIMEOUT_MS}ms` },
      nodeSetup: (node) => ({ env: { STRONGBOX_TEST_HOOKS: hooksFile(node) } }),
    }));
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    rmSync(hooksDir, { recursive: true, force: true });
  });

  /** Stalls `node`'s main loop for `blockMs`; resolves with when the signal was sent (Date.now()). */
  const stall = (node: ClusterNode, blockMs: number) => {
    writeFileSync(hooksFile(node), JSON.stringify({ blockMs }));
    node.process!.child.kill("SIGUSR2");
    return Date.now();
  };

  /**
   * A request on a connection of its own: a pooled one may be idle past the server's keep-alive
   * timeout when the stalled node wakes, and be closed under the request.
   */
  const onNewConnection = (node: ClusterNode, method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const sent = request(
        { host: "127.0.0.1", port: node.port, method, path: `/v1/${path}`, agent: false, headers: { "x-vault-token": cluster.rootToken } },
        (response) => {
          let text = "";
          response.on("data", (chunk) => (text += chunk));
          response.on("end", () => resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : null }));
        },
      );
      sent.on("error", reject);
      sent.end(body === undefined ? undefined : JSON.stringify(body));
    });

  /** Polls `observer`'s sys/leader until `until()` is true; returns what it saw, with when. */
  const watchLeader = async (observer: ClusterNode, until: () => boolean) => {
    const seen: { at: number; leader: string; isSelf: boolean }[] = [];
    while (!until()) {
      const leader = await api(observer, "GET", "sys/leader").catch(() => null);
      if (leader?.status === 200) seen.push({ at: Date.now(), leader: leader.body.leader_address, isSelf: leader.body.is_self });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return seen;
  };

  it("keeps the lock through a stall of three leases: no leadership change", async () => {
    const standby = cluster.nodes.find((node) => node !== active)!;
    const blockMs = 3 * LEASE_MS;
    const outputBefore = active.process!.output().length;
    const sentAt = stall(active, blockMs);
    // The stalled node answers nothing until it resumes: its first answer marks the end.
    let resumed = false;
    const answered = onNewConnection(active, "GET", "sys/leader").then((leader) => ((resumed = true), leader));
    const seen = await watchLeader(standby, () => resumed);
    const afterwards = await answered;

    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(blockMs);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((view) => view.isSelf || view.leader !== active.apiAddr)).toEqual([]);
    expect(afterwards.body).toMatchObject({ is_self: true });
    const output = active.process!.output().slice(outputBefore);
    expect(output).toContain("test hook: main event loop unblocked");
    expect(output).not.toContain("entering standby mode");
    const write = await api(active, "PUT", "secret/data/after-short-stall", { data: { ok: "yes" } }, cluster.rootToken);
    expect(write.status).toBe(200);
  }, 90_000);

  it("gives the lock up after ha_stall_timeout; the woken node serves nothing as active", async () => {
    const stalled = active;
    const standby = cluster.nodes.find((node) => node !== stalled)!;
    const blockMs = STALL_TIMEOUT_MS + 8_000;
    const sentAt = stall(stalled, blockMs);
    // Queued on the stalled node: answered only after it wakes, by then as a standby.
    const queuedWrite = onNewConnection(stalled, "PUT", "secret/data/written-during-stall", { data: { via: "stalled node" } }).catch(() => ({
      status: 0,
      body: null,
    }));

    let takenOver = false;
    const seen = watchLeader(standby, () => takenOver);
    await waitFor(async () => ((await api(standby, "GET", "sys/leader")).body.is_self === true ? true : null), blockMs, "the standby to take over");
    const tookOverAt = Date.now();
    takenOver = true;
    // Not at the lease's end, as it would if the stalled loop had stopped the renewals: only at the stall timeout.
    expect(tookOverAt - sentAt).toBeGreaterThanOrEqual(3 * LEASE_MS);
    expect((await seen).filter((view) => view.at - sentAt < 3 * LEASE_MS && view.leader !== stalled.apiAddr)).toEqual([]);
    // Before the stalled node woke: the worker released the lock, the lease did not run out.
    expect(tookOverAt - sentAt).toBeLessThan(blockMs);

    const write = await queuedWrite;
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(blockMs);
    const output = stalled.process!.output();
    const unblocked = output.indexOf("test hook: main event loop unblocked");
    expect(unblocked).toBeGreaterThan(0);
    expect(output.indexOf("stopped active operation, entering standby mode", unblocked)).toBeGreaterThan(unblocked);
    expect((await api(stalled, "GET", "sys/leader")).body).toMatchObject({ is_self: false, leader_address: standby.apiAddr });
    // Acknowledged only if forwarded to and applied by the new active; otherwise refused (or cut off), and not applied at all.
    const read = await api(standby, "GET", "secret/data/written-during-stall", undefined, cluster.rootToken);
    if (write.status === 200) expect(read.body.data.data).toEqual({ via: "stalled node" });
    else expect(read.status).toBe(404);
    active = standby;
  }, 90_000);
});
