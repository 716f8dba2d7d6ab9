/**
 * Issue #35 on a real three-node cluster: a huge unauthenticated body does not stall the active
 * (no leadership change), and a user lockout survives a leadership change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Cluster, type ClusterNode } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";

const MiB = 1024 * 1024;
const encode = (text: string) => new TextEncoder().encode(text);

describe("request bodies and lockouts across leadership changes", () => {
  let cluster: Cluster;
  let active: ClusterNode;

  beforeAll(async () => {
    // A lease a loaded two-core machine's scheduler cannot starve by itself; the body's parse used to
    // hold the active far longer (a minute for 32 MiB of `{}`), so it would still lose the lock.
    ({ cluster, active } = await startKvCluster({
      lockOptions: { ha_lease_duration: "6s", ha_renew_interval: "1s", ha_retry_interval: "500ms" },
      startTimeoutMs: 180_000,
    }));
    expect((await api(active, "POST", "sys/auth/userpass", { type: "userpass" }, cluster.rootToken)).status).toBe(204);
    expect((await api(active, "PUT", "auth/userpass/users/alice", { password: "right" }, cluster.rootToken)).status).toBe(204);
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("refuses a 20 MiB unauthenticated body to the active with 413; the active stays active and answers health within 1 s throughout", async () => {
    const body = encode(`{"password":[${"{},".repeat(Math.floor((20 * MiB) / 3))}{}]}`);
    let finished = false;
    const sent = fetch(`${active.apiAddr}/v1/auth/userpass/login/alice`, { method: "PUT", body }).finally(() => (finished = true));
    let slowest = 0;
    let polls = 0;
    // Past the request's answer too: a stalled node would lose the lock a few seconds later.
    const until = () => finished && polls >= 40;
    while (!until()) {
      const started = performance.now();
      const health = await fetch(`${active.apiAddr}/v1/sys/health`);
      await health.text();
      // 200 only from an unsealed active: every poll is proof the node still held the lock.
      expect(health.status).toBe(200);
      slowest = Math.max(slowest, performance.now() - started);
      polls++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const answer = await sent;
    expect(answer.status).toBe(413);
    expect(await answer.json()).toEqual({ errors: ["http: request body too large"] });
    expect(slowest).toBeLessThan(1000);
    expect(await cluster.waitForActive()).toBe(active);
  });

  it("a user locked out on the active stays locked out on the next active", async () => {
    /** A login on `node`, sent again while the cluster answers that no active is known (a loaded machine's lock hand-over). */
    const login = async (node: ClusterNode, password: string) => {
      for (;;) {
        const answer = await api(node, "PUT", "auth/userpass/login/alice", { password });
        if (answer.status !== 503) return answer;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    for (let i = 0; i < 5; i++) expect((await login(active, "wrong")).body).toEqual({ errors: ["invalid username or password"] });
    expect(await login(active, "right")).toMatchObject({ status: 400, body: { errors: ["permission denied"] } });

    const before = active;
    expect((await api(before, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
    active = await cluster.waitForActive({ not: before });
    expect(await login(active, "right")).toMatchObject({ status: 400, body: { errors: ["permission denied"] } });
    const locked = await api(active, "GET", "sys/locked-users", undefined, cluster.rootToken);
    expect(locked.body.data.total).toBe(1);

    // An unlock on the new active is written too: the user can log in again, here and after the next change.
    const accessor = locked.body.data.by_namespace[0].mount_accessors[0].mount_accessor;
    expect((await api(active, "POST", `sys/locked-users/${accessor}/unlock/alice`, {}, cluster.rootToken)).status).toBe(204);
    expect((await login(active, "right")).status).toBe(200);
    const second = active;
    expect((await api(second, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
    active = await cluster.waitForActive({ not: second });
    expect((await login(active, "right")).status).toBe(200);
  });
});
