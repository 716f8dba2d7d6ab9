/**
 * Rekey and root generation in real HA clusters (S3 + DynamoDB Local): the new shares are in shared
 * storage, so every node unseals with them afterwards, also one that was already sealed and had read
 * the old share counts; with awskms, the recovery keys are rekeyed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, startCluster, waitFor } from "../helpers/cluster.js";
import { createKmsKey, kmsEndpoint } from "../helpers/kms.js";

const stores = { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") };

/** Gives each share in turn to `path`'s update with the attempt's nonce; the last answer. */
async function giveShares(node: ClusterNode, path: string, nonce: string, keys: string[]): Promise<Record<string, any>> {
  let answer: Record<string, any> = {};
  for (const key of keys) {
    const response = await api(node, "PUT", path, { key, nonce });
    expect(response.status).toBe(200);
    answer = response.body;
  }
  return answer;
}

async function unsealWith(node: ClusterNode, keys: string[]): Promise<Record<string, any>> {
  let status: Record<string, any> = {};
  for (const key of keys) status = (await api(node, "PUT", "sys/unseal", { key })).body;
  return status;
}

/** Until `node` is a standby; it serves reads by default, so health says 473 (a performance standby). */
async function waitStandby(node: ClusterNode): Promise<void> {
  await waitFor(async () => ((await api(node, "GET", "sys/health")).status === 473 ? true : null), 20_000, `node ${node.index} standing by`);
}

describe("rekey in a Shamir HA cluster (2 nodes)", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(stores, { size: 2 });
  }, 90_000);
  afterAll(() => cluster?.stop());

  it("rekeys on the active; a node sealed before the rekey and a restarted active unseal with the new shares and counts", async () => {
    const active = await cluster.waitForActive();
    const standby = cluster.nodes.find((node) => node !== active)!;
    await waitStandby(standby);
    // Sealed before the rekey, having read the old counts (3 shares, threshold 2).
    await standby.process!.stop();
    await cluster.start(standby);
    expect((await api(standby, "GET", "sys/seal-status")).body).toMatchObject({ sealed: true, t: 2, n: 3 });

    const started = await api(active, "PUT", "sys/rekey/init", { secret_shares: 5, secret_threshold: 3 });
    expect(started.status).toBe(200);
    const done = await giveShares(active, "sys/rekey/update", started.body.nonce, cluster.unsealKeys.slice(0, 2));
    expect(done).toMatchObject({ complete: true });
    const newKeys: string[] = done.keys;
    expect(newKeys).toHaveLength(5);

    // The sealed node read the new counts at its first share (the helper kept only two old shares:
    // that old shares no longer open the barrier is shown on one node in hvac-keys-mounts.test.ts).
    expect(await unsealWith(standby, cluster.unsealKeys)).toMatchObject({ sealed: true, t: 3, n: 5, progress: 2 });
    expect((await api(standby, "PUT", "sys/unseal", { reset: true })).body.progress).toBe(0);
    expect(await unsealWith(standby, newKeys.slice(2, 5))).toMatchObject({ sealed: false, t: 3, n: 5 });
    await waitStandby(standby);

    // The active restarted: it comes back sealed and opens with the new shares only.
    await active.process!.stop();
    await cluster.start(active);
    expect(await unsealWith(active, newKeys.slice(0, 3))).toMatchObject({ sealed: false });
    cluster.unsealKeys = newKeys;
  });

  it("generates a root token through the standby (forwarded to the active); the decoded token works", async () => {
    const active = await cluster.waitForActive();
    const standby = cluster.nodes.find((node) => node !== active)!;
    await waitStandby(standby);
    const started = await api(standby, "PUT", "sys/generate-root/attempt", {});
    expect(started.body).toMatchObject({ started: true, required: 3, otp_length: 28 });
    const done = await giveShares(standby, "sys/generate-root/update", started.body.nonce, cluster.unsealKeys.slice(1, 4));
    expect(done).toMatchObject({ complete: true });
    const raw = Buffer.from(done.encoded_token, "base64");
    const token = String.fromCharCode(...raw.map((byte, i) => byte ^ started.body.otp.charCodeAt(i)));
    const lookup = await api(active, "GET", "auth/token/lookup-self", undefined, token);
    expect(lookup.body.data.policies).toEqual(["root"]);
  });
});

describe("rekey of the recovery keys with the awskms seal (1 node)", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    const keyId = await createKmsKey();
    const stanza = `
seal "awskms" {
  kms_key_id = "${keyId}"
  endpoint   = "${kmsEndpoint()}"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"
}`;
    cluster = await startCluster(stores, { size: 1, extraConfig: stanza, initRequest: { recovery_shares: 3, recovery_threshold: 2 } });
  }, 90_000);
  afterAll(() => cluster?.stop());

  it("refuses sys/rekey (no unseal keys), rekeys the recovery keys, and only the new ones authorize an unseal", async () => {
    const node = await cluster.waitForActive();
    const refused = await api(node, "PUT", "sys/rekey/init", { secret_shares: 3, secret_threshold: 2 });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0]).toContain("sys/rekey-recovery-key");

    const started = await api(node, "PUT", "sys/rekey-recovery-key/init", { secret_shares: 4, secret_threshold: 2 });
    expect(started.body).toMatchObject({ started: true, required: 2, t: 2, n: 4 });
    const done = await giveShares(node, "sys/rekey-recovery-key/update", started.body.nonce, cluster.recoveryKeys.slice(0, 2));
    expect(done.keys).toHaveLength(4);
    expect((await api(node, "GET", "sys/seal-status")).body).toMatchObject({ t: 2, n: 4, recovery_seal: true });

    expect((await api(node, "PUT", "sys/seal", undefined, cluster.rootToken)).status).toBe(204);
    await api(node, "PUT", "sys/unseal", { key: cluster.recoveryKeys[0] });
    const old = await api(node, "PUT", "sys/unseal", { key: cluster.recoveryKeys[1] });
    expect(old.status).toBe(400);
    expect(await unsealWith(node, done.keys.slice(2, 4))).toMatchObject({ sealed: false });
  });
});
