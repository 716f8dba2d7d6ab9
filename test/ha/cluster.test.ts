import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import nodeVault from "node-vault";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, waitFor } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

/** Three real node processes: S3 for data, DynamoDB Local for the lock (the split setup). */
describe("HA mode: election, advertisement and standby redirects", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  const standbys = () => cluster.nodes.filter((n) => n !== active && n.process);

  beforeAll(async () => {
    ({ cluster, active } = await startKvCluster());
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("has exactly one active node; standbys report it and, serving reads by default, answer health with 473", async () => {
    for (const node of standbys()) {
      const leader = await api(node, "GET", "sys/leader");
      expect(leader.body).toMatchObject({ ha_enabled: true, is_self: false, leader_address: active.apiAddr, performance_standby: true });
      expect(leader.body.leader_cluster_address).toMatch(/^https:\/\//);
      expect((await api(node, "GET", "sys/health")).status).toBe(473);
      expect((await api(node, "GET", "sys/health?perfstandbyok=true")).status).toBe(200);
    }
    expect((await api(active, "GET", "sys/health")).status).toBe(200);
    expect((await api(active, "GET", "sys/leader")).body).toMatchObject({ ha_enabled: true, is_self: true });
  });

  it("redirects from every standby to the active's api_addr with the original path and query", async () => {
    const noForwarding = { "X-Vault-No-Request-Forwarding": "true" };
    // A standby answers reads itself unless the client asks for the active (Vault Enterprise's header).
    const toActive = { ...noForwarding, "X-Vault-Forward": "active-node" };
    for (const node of standbys()) {
      expect((await api(node, "GET", "secret/data/app?version=2", undefined, cluster.rootToken, noForwarding)).status).toBe(404);
      const read = await api(node, "GET", "secret/data/app?version=2", undefined, cluster.rootToken, toActive);
      expect(read.status).toBe(307);
      expect(read.headers.get("location")).toBe(`${active.apiAddr}/v1/secret/data/app?version=2`);
      const write = await api(node, "PUT", "secret/data/app", { data: { a: 1 } }, cluster.rootToken, noForwarding);
      expect(write.status).toBe(307);
      expect(write.headers.get("location")).toBe(`${active.apiAddr}/v1/secret/data/app`);
    }
  });

  it("works for a Vault client that follows the redirect", async () => {
    const [standby] = standbys();
    const vault = nodeVault({ endpoint: standby!.apiAddr, token: cluster.rootToken });
    await vault.write("secret/data/app", { data: { password: "before-failover" } });
    expect((await vault.read("secret/data/app")).data.data).toEqual({ password: "before-failover" });
  });

  it("keeps the advertisement unreadable in raw storage and the lock record public-only", async () => {
    const s3 = new S3Client({ endpoint: inject("s3Endpoint"), region: "us-east-1", forcePathStyle: true, credentials });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: inject("s3Bucket"), Prefix: `${cluster.s3Prefix}/core/leader/` }));
    expect(listed.Contents?.length).toBe(1);
    const object = await s3.send(new GetObjectCommand({ Bucket: inject("s3Bucket"), Key: listed.Contents![0]!.Key! }));
    const raw = Buffer.from(await object.Body!.transformToByteArray()).toString("latin1");
    expect(raw.length).toBeGreaterThan(500);
    for (const clear of ["CERTIFICATE", "PRIVATE KEY", "127.0.0.1", "cluster_addr"]) expect(raw).not.toContain(clear);

    const dynamodb = new DynamoDBClient({ endpoint: inject("dynamodbEndpoint"), region: "us-east-1", credentials });
    const items = JSON.stringify((await dynamodb.send(new ScanCommand({ TableName: cluster.table }))).Items);
    expect(items).toContain(active.apiAddr);
    for (const secret of ["CERTIFICATE", "PRIVATE KEY", cluster.rootToken]) expect(items).not.toContain(secret);
  });

  it("moves leadership on step-down", async () => {
    const before = active;
    expect((await api(before, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
    active = await cluster.waitForActive({ not: before });
    expect(active).not.toBe(before);
    const leader = await api(before, "GET", "sys/leader");
    expect(leader.body).toMatchObject({ is_self: false, leader_address: active.apiAddr });
  });

  it("fails over after kill -9 of the active, and the new active serves earlier data", async () => {
    const victim = active;
    await victim.process!.kill();
    victim.process = null;
    active = await cluster.waitForActive();
    const read = await api(active, "GET", "secret/data/app", undefined, cluster.rootToken);
    expect(read.status).toBe(200);
    expect(read.body.data.data).toEqual({ password: "before-failover" });
  });

  it("advertises a restarted node's new api_addr", async () => {
    const restarted = cluster.nodes.find((n) => !n.process)!;
    const newApiAddr = `http://localhost:${restarted.port}`;
    await cluster.start(restarted, { apiAddr: newApiAddr });
    await cluster.unseal(restarted);
    // Hand leadership over until the restarted node holds it.
    while (active !== restarted) {
      const before = active;
      await api(before, "PUT", "sys/step-down", undefined, cluster.rootToken);
      active = await cluster.waitForActive({ not: before });
    }
    for (const node of standbys()) {
      await waitFor(async () => ((await api(node, "GET", "sys/leader")).body.leader_address === newApiAddr ? true : null), 10_000, "the new api_addr");
      const redirected = await api(node, "GET", "sys/mounts", undefined, cluster.rootToken, {
        "X-Vault-No-Request-Forwarding": "1",
        "X-Vault-Forward": "active-node",
      });
      expect(redirected.headers.get("location")).toBe(`${newApiAddr}/v1/sys/mounts`);
    }
  });

  it("moves leadership when the active is sealed, and a sealed node never becomes active", async () => {
    const sealedNode = active;
    expect((await api(sealedNode, "PUT", "sys/seal", undefined, cluster.rootToken)).status).toBe(204);
    active = await cluster.waitForActive({ not: sealedNode });
    expect((await api(sealedNode, "GET", "sys/seal-status")).body.sealed).toBe(true);
    // Seal whichever node is active until none is left unsealed; the sealed node must never take over.
    const running = cluster.nodes.filter((n) => n.process);
    const unsealedCount = async () => (await Promise.all(running.map((n) => api(n, "GET", "sys/seal-status")))).filter((r) => r.body.sealed === false).length;
    while ((await unsealedCount()) > 0) {
      const current = await cluster.waitForActive();
      expect(current).not.toBe(sealedNode);
      expect((await api(current, "PUT", "sys/seal", undefined, cluster.rootToken)).status).toBe(204);
    }
    const health = await Promise.all(running.map((n) => api(n, "GET", "sys/health")));
    expect(health.map((h) => h.status)).toEqual(running.map(() => 503));
    expect((await api(sealedNode, "GET", "sys/leader")).status).toBe(503);
  });
});
