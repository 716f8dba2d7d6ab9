/**
 * Transit on three real nodes with standby reads: a rotation on the active is what the next
 * request through any standby uses (forwarded encrypt, locally answered decrypt and verify), and
 * an acknowledged rotation survives kill -9 of the active.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Cluster, type ClusterNode } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";

const LOCAL_ONLY = { "X-Vault-No-Request-Forwarding": "true" };
const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("transit in a cluster", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  const root = () => cluster.rootToken;
  const standbys = () => cluster.nodes.filter((node) => node !== active && node.process);

  beforeAll(async () => {
    ({ cluster, active } = await startKvCluster({
      lockOptions: { ha_lease_duration: "6s", ha_renew_interval: "1s", ha_retry_interval: "500ms" },
    }));
    expect((await api(active, "POST", "sys/mounts/transit", { type: "transit" }, root())).status).toBe(204);
    expect((await api(active, "POST", "transit/keys/orders", {}, root())).status).toBe(200);
    expect((await api(active, "POST", "transit/keys/signer", { type: "ecdsa-p256" }, root())).status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("uses a rotation made on the active in the very next request through any standby", async () => {
    for (let round = 0; round < 5; round++) {
      const rotated = await api(active, "POST", "transit/keys/orders/rotate", {}, root());
      expect(rotated.status).toBe(200);
      const latest = rotated.body.data.latest_version as number;
      for (const standby of standbys()) {
        const encrypted = await api(standby, "POST", "transit/encrypt/orders", { plaintext: b64(`round ${round}`) }, root());
        expect(encrypted.status).toBe(200);
        expect(encrypted.body.data.key_version).toBe(latest);
        // Answered by the standby itself, from its read view: it already knows the new version.
        const decrypted = await api(standby, "POST", "transit/decrypt/orders", { ciphertext: encrypted.body.data.ciphertext }, root(), LOCAL_ONLY);
        expect(decrypted.status).toBe(200);
        expect(decrypted.body.data.plaintext).toBe(b64(`round ${round}`));
        const read = await api(standby, "GET", "transit/keys/orders", undefined, root(), LOCAL_ONLY);
        expect(read.body.data.latest_version).toBe(latest);
      }
    }
  });

  it("verifies on a standby what the active signed with a version made a moment before", async () => {
    await api(active, "POST", "transit/keys/signer/rotate", {}, root());
    const signed = await api(active, "POST", "transit/sign/signer", { input: b64("order 66") }, root());
    expect(signed.body.data.key_version).toBe(2);
    for (const standby of standbys()) {
      const verified = await api(
        standby,
        "POST",
        "transit/verify/signer",
        { input: b64("order 66"), signature: signed.body.data.signature },
        root(),
        LOCAL_ONLY,
      );
      expect(verified).toMatchObject({ status: 200, body: { data: { valid: true } } });
      const hashed = await api(standby, "POST", "transit/hash", { input: b64("x") }, root(), LOCAL_ONLY);
      expect(hashed.status).toBe(200);
      // A write that writes nothing locally is still a write: rotation goes to the active.
      expect((await api(standby, "POST", "transit/keys/signer/rotate", {}, root(), LOCAL_ONLY)).status).toBe(307);
    }
  });

  it("keeps an acknowledged rotation through kill -9 of the active", async () => {
    const before = await api(active, "POST", "transit/encrypt/orders", { plaintext: b64("before the crash") }, root());
    const rotated = await api(active, "POST", "transit/keys/orders/rotate", {}, root());
    expect(rotated.status).toBe(200);
    const acknowledged = rotated.body.data.latest_version as number;
    const victim = active;
    await victim.process!.kill();
    victim.process = null;
    active = await cluster.waitForActive();
    expect(active).not.toBe(victim);
    const read = await api(active, "GET", "transit/keys/orders", undefined, root());
    expect(read.body.data.latest_version).toBe(acknowledged);
    const after = await api(active, "POST", "transit/encrypt/orders", { plaintext: b64("after") }, root());
    expect(after.body.data.key_version).toBe(acknowledged);
    const decrypted = await api(active, "POST", "transit/decrypt/orders", { ciphertext: before.body.data.ciphertext }, root());
    expect(decrypted.body.data.plaintext).toBe(b64("before the crash"));
  });
});
