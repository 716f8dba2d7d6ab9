/**
 * Seal migration with real processes (S3 data, DynamoDB Local lock, moto KMS), node by node as
 * Vault's procedure goes: each standby is restarted with the new seal configuration and unsealed
 * with the old seal's keys and `migrate`; the active steps down; the migrated node that takes over
 * writes the new seal configuration; the old active is restarted last. Clients write all along.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, startCluster, waitFor } from "../helpers/cluster.js";
import { awskmsStanza, createKmsKey } from "../helpers/kms.js";
import { Writers } from "../helpers/writers.js";

const stores = { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") };
/** As the zero-downtime tests: a lease a loaded machine's stalls do not end; a short cool-down so the step-down moves leadership. */
const LOCK_OPTIONS = { ha_lease_duration: "3s", ha_renew_interval: "500ms", ha_step_down_cooldown: "2s" };
/** Nodes start several at a time here, on a machine other test runs share. */
const START_TIMEOUT_MS = 60_000;

async function sealStatus(node: ClusterNode) {
  return (await api(node, "GET", "sys/seal-status")).body;
}

/** Until `node` is an unsealed standby; it serves reads by default, so health says 473 (a performance standby). */
async function waitUnsealedStandby(node: ClusterNode): Promise<void> {
  await waitFor(
    async () => {
      const health = await api(node, "GET", "sys/health");
      return health.status === 473 && health.body.sealed === false ? true : null;
    },
    20_000,
    `node ${node.index} unsealed and standing by`,
  );
}

/** Restarts `node` (the writers kept off it meanwhile) with `extraConfig` as its seal configuration. */
async function restartWith(cluster: Cluster, writers: Writers, node: ClusterNode, extraConfig: string): Promise<void> {
  await writers.avoid(node);
  expect(await node.process!.stop(20_000)).toBe(0);
  node.extraConfig = extraConfig;
  await cluster.start(node);
}

/** Gives `keys` with `migrate: true`; the last answer's body. */
async function unsealMigrating(node: ClusterNode, keys: string[]) {
  let body: any;
  for (const key of keys) {
    const answer = await api(node, "PUT", "sys/unseal", { key, migrate: true });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    body = answer.body;
  }
  return body;
}

async function expectNoFailuresNorLostWrites(writers: Writers): Promise<void> {
  await writers.stop();
  expect(writers.failures).toEqual([]);
  expect(writers.acknowledged.size).toBe(writers.clients);
  expect(await writers.lostWrites()).toEqual([]);
}

async function mountSecrets(cluster: Cluster): Promise<void> {
  const active = await cluster.waitForActive();
  expect((await api(active, "POST", "sys/mounts/secret", { type: "kv-v2" }, cluster.rootToken)).status).toBe(204);
}

/** Every node restarted with its current configuration; the active serves what the writers left. */
async function restartAll(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.nodes.map((node) => node.process!.stop(20_000)));
  await Promise.all(cluster.nodes.map((node) => cluster.start(node)));
}

describe("seal migration Shamir → awskms, 3 nodes, node by node", () => {
  let cluster: Cluster;
  let kmsConfig: string;

  beforeAll(async () => {
    kmsConfig = awskmsStanza(await createKmsKey());
    cluster = await startCluster(stores, { size: 3, lockOptions: LOCK_OPTIONS, startTimeoutMs: START_TIMEOUT_MS });
    await mountSecrets(cluster);
  }, 240_000);
  afterAll(() => cluster?.stop());

  it("keeps serving writes while each node moves to awskms; the new active writes the new seal configuration", async () => {
    const writers = new Writers(cluster, cluster.nodes);
    try {
      const oldActive = await cluster.waitForActive();
      for (const standby of cluster.nodes.filter((node) => node !== oldActive)) {
        await writers.moreWrites(10);
        await restartWith(cluster, writers, standby, kmsConfig);
        expect(await sealStatus(standby)).toMatchObject({ type: "shamir", sealed: true, migration: true, t: 2, n: 3 });
        await waitFor(async () => (standby.process!.output().includes("entering seal migration mode") ? true : null), 10_000, "the migration mode log line");
        // The standby unseals with the old keys but leaves the migration to the node that holds the lock.
        expect(await unsealMigrating(standby, cluster.unsealKeys)).toMatchObject({ sealed: false, migration: true });
        await waitUnsealedStandby(standby);
        writers.include(standby);
      }
      await writers.moreWrites(10);
      expect((await api(oldActive, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
      const newActive = await cluster.waitForActive({ not: oldActive });
      await waitFor(
        async () => (newActive.process!.output().includes("seal migration completed: from=shamir to=awskms") ? true : null),
        20_000,
        "the migration to complete",
      );
      for (const node of cluster.nodes.filter((n) => n !== oldActive)) {
        expect(await sealStatus(node)).toMatchObject({ type: "awskms", recovery_seal: true, sealed: false, migration: false, t: 2, n: 3 });
      }
      await writers.moreWrites(10);

      // Last, the old active: restarted with the new configuration, it unseals itself.
      await restartWith(cluster, writers, oldActive, kmsConfig);
      await waitUnsealedStandby(oldActive);
      expect(oldActive.process!.output()).toContain("unsealed with the seal's stored key");
      writers.include(oldActive);
      await writers.moreWrites(10);
    } finally {
      await expectNoFailuresNorLostWrites(writers);
    }
  }, 180_000);

  it("after a full restart every node unseals itself; the former unseal keys are the recovery keys", async () => {
    await restartAll(cluster);
    const active = await cluster.waitForActive();
    for (const node of cluster.nodes) if (node !== active) await waitUnsealedStandby(node);
    expect((await api(active, "PUT", "sys/seal", undefined, cluster.rootToken)).status).toBe(204);
    await cluster.waitForActive({ not: active });
    const refused = await api(active, "PUT", "sys/unseal", { key: cluster.unsealKeys[0], migrate: true });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0]).toMatch(/no seal migration is pending/);
    await cluster.unseal(active);
    await waitUnsealedStandby(active);
  }, 120_000);
});

describe("seal migration awskms → Shamir, 2 nodes, node by node", () => {
  let cluster: Cluster;
  let keyId: string;

  beforeAll(async () => {
    keyId = await createKmsKey();
    cluster = await startCluster(stores, {
      size: 2,
      lockOptions: LOCK_OPTIONS,
      extraConfig: awskmsStanza(keyId),
      initRequest: { recovery_shares: 3, recovery_threshold: 2 },
      startTimeoutMs: START_TIMEOUT_MS,
    });
    await mountSecrets(cluster);
  }, 240_000);
  afterAll(() => cluster?.stop());

  it("keeps serving writes; after the migration a restarted node needs the former recovery keys", async () => {
    const disabledKms = awskmsStanza(keyId, undefined, { disabled: true });
    const recoveryKeys = cluster.recoveryKeys.slice(0, 2);
    const writers = new Writers(cluster, cluster.nodes);
    try {
      const oldActive = await cluster.waitForActive();
      const standby = cluster.nodes.find((node) => node !== oldActive)!;
      await writers.moreWrites(10);
      await restartWith(cluster, writers, standby, disabledKms);
      expect(await sealStatus(standby)).toMatchObject({ type: "awskms", recovery_seal: true, sealed: true, migration: true, t: 2, n: 3 });
      expect(await unsealMigrating(standby, recoveryKeys)).toMatchObject({ sealed: false, migration: true });
      await waitUnsealedStandby(standby);
      writers.include(standby);

      await writers.moreWrites(10);
      expect((await api(oldActive, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
      expect(await cluster.waitForActive({ not: oldActive })).toBe(standby);
      await waitFor(
        async () => (standby.process!.output().includes("seal migration completed: from=awskms to=shamir") ? true : null),
        20_000,
        "the migration to complete",
      );
      expect(await sealStatus(standby)).toMatchObject({ type: "shamir", recovery_seal: false, migration: false, t: 2, n: 3 });
      await writers.moreWrites(10);

      // The old active, restarted with the disabled stanza, is now a plain Shamir node: no auto-unseal, no migrate.
      await restartWith(cluster, writers, oldActive, disabledKms);
      expect(await sealStatus(oldActive)).toMatchObject({ type: "shamir", sealed: true, migration: false });
      for (const key of recoveryKeys) await api(oldActive, "PUT", "sys/unseal", { key });
      await waitUnsealedStandby(oldActive);
      writers.include(oldActive);
      await writers.moreWrites(10);
    } finally {
      await expectNoFailuresNorLostWrites(writers);
    }

    // The stanza removed and everything restarted: sealed until the former recovery keys are given.
    for (const node of cluster.nodes) node.extraConfig = "";
    await restartAll(cluster);
    for (const node of cluster.nodes) {
      expect(await sealStatus(node)).toMatchObject({ type: "shamir", sealed: true });
      for (const key of recoveryKeys) await api(node, "PUT", "sys/unseal", { key });
    }
    const active = await cluster.waitForActive();
    const read = await api(active, "GET", "secret/data/client-0", undefined, cluster.rootToken);
    expect(read.status).toBe(200);
  }, 180_000);
});
