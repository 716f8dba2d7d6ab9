/**
 * Auto-unseal with real processes: a 3-node cluster on S3 + DynamoDB Local with `seal "awskms"`
 * against moto. Nobody calls sys/unseal here: every node unseals itself.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, startCluster, waitFor } from "../helpers/cluster.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { awskmsStanza, createKmsKey, kmsEndpoint } from "../helpers/kms.js";

const stores = { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") };

const RECOVERY_INIT = { recovery_shares: 3, recovery_threshold: 2 };

/** Until `node` is an unsealed standby; it serves reads by default, so health says 473 (a performance standby). */
async function waitUnsealedStandby(node: ClusterNode): Promise<void> {
  await waitFor(
    async () => {
      const health = await api(node, "GET", "sys/health");
      return health.status === 473 && health.body.sealed === false && health.body.standby === true ? true : null;
    },
    20_000,
    `node ${node.index} unsealed and standing by`,
  );
}

/** The secret written at the start, read through `node` once it serves (right after a failover it may still answer 503). */
async function readSecretThrough(node: ClusterNode, rootToken: string): Promise<unknown> {
  return waitFor(
    async () => {
      const read = await api(node, "GET", "kv/app", undefined, rootToken);
      if (read.status !== 200) throw new Error(`HTTP ${read.status}: ${JSON.stringify(read.body)}`);
      return read.body.data;
    },
    10_000,
    `node ${node.index} to serve kv/app`,
  );
}

describe("awskms cluster: 3 nodes, S3 + DynamoDB Local + moto", () => {
  let cluster: Cluster;

  beforeAll(async () => {
    const keyId = await createKmsKey();
    cluster = await startCluster(stores, { size: 3, extraConfig: awskmsStanza(keyId, kmsEndpoint()), initRequest: RECOVERY_INIT });
  }, 90_000);
  afterAll(() => cluster?.stop());

  it("init once: every node unsealed itself, one active, seal-status says awskms with recovery keys", async () => {
    expect(cluster.unsealKeys).toEqual([]);
    expect(cluster.recoveryKeys).toHaveLength(3);
    const active = await cluster.waitForActive();
    for (const node of cluster.nodes) {
      const status = (await api(node, "GET", "sys/seal-status")).body;
      expect(status).toMatchObject({ type: "awskms", recovery_seal: true, sealed: false, t: 2, n: 3 });
      if (node !== active) await waitUnsealedStandby(node);
    }
    const write = await api(active, "PUT", "sys/mounts/kv", { type: "kv", options: { version: "1" } }, cluster.rootToken);
    expect(write.status).toBe(204);
    expect((await api(active, "PUT", "kv/app", { password: "s3cret" }, cluster.rootToken)).status).toBe(204);
  });

  it("a standby killed with SIGKILL and restarted comes back unsealed, standing by, with no unseal call", async () => {
    const active = await cluster.waitForActive();
    const standby = cluster.nodes.find((node) => node !== active)!;
    await standby.process!.kill();
    await cluster.start(standby);
    await waitUnsealedStandby(standby);
    expect(standby.process!.output()).toContain("unsealed with the seal's stored key");
  });

  it("the active killed with SIGKILL: a standby takes over, and the old active rejoins as a standby by itself", async () => {
    const active = await cluster.waitForActive();
    await active.process!.kill();
    const next = await cluster.waitForActive({ not: active });
    await cluster.start(active);
    await waitUnsealedStandby(active);
    expect(await readSecretThrough(next, cluster.rootToken)).toEqual({ password: "s3cret" });
  });

  it("all three restarted: the cluster serves again with no human", async () => {
    await Promise.all(cluster.nodes.map((node) => node.process!.stop()));
    await Promise.all(cluster.nodes.map((node) => cluster.start(node)));
    const active = await cluster.waitForActive();
    expect(await readSecretThrough(active, cluster.rootToken)).toEqual({ password: "s3cret" });
    for (const node of cluster.nodes) if (node !== active) await waitUnsealedStandby(node);
  });

  it("after sys/seal a node stays sealed until an operator gives the recovery keys", async () => {
    const active = await cluster.waitForActive();
    expect((await api(active, "PUT", "sys/seal", undefined, cluster.rootToken)).status).toBe(204);
    await cluster.waitForActive({ not: active });
    // That auto-unseal does not run again after sys/seal is pinned down with fake timers in auto-unseal.test.ts.
    expect((await api(active, "GET", "sys/seal-status")).body.sealed).toBe(true);
    await api(active, "PUT", "sys/unseal", { key: cluster.recoveryKeys[0] });
    expect((await api(active, "PUT", "sys/unseal", { key: cluster.recoveryKeys[1] })).body.sealed).toBe(false);
    await waitUnsealedStandby(active);
  });
});

describe("awskms node whose KMS is down at start", () => {
  it("stays sealed (health 503) with a clear log line, then unseals by itself once KMS answers", async () => {
    const proxy = await startFaultProxy(kmsEndpoint());
    const keyId = await createKmsKey();
    const cluster = await startCluster(stores, { size: 1, extraConfig: awskmsStanza(keyId, proxy.endpoint), initRequest: RECOVERY_INIT });
    try {
      const [node] = cluster.nodes;
      await node!.process!.stop();
      proxy.setMode("reset");
      await cluster.start(node!);
      await waitFor(
        async () => (node!.process!.output().includes("cannot unseal: the node stays sealed and tries again") ? true : null),
        20_000,
        "the log line",
      );
      expect(node!.process!.output()).toMatch(
        /\[ERROR\] seal: cannot unseal: the node stays sealed and tries again in \d+s: error=awskms seal: KMS key .+ could not be used: /,
      );
      expect((await api(node!, "GET", "sys/health")).status).toBe(503);
      proxy.setMode("pass");
      await waitFor(async () => ((await api(node!, "GET", "sys/health")).status === 200 ? true : null), 20_000, "the node to unseal by itself");
    } finally {
      await cluster.stop();
      await proxy.close();
    }
  });
});
