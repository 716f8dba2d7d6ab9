import { describe, expect, it } from "vitest";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import type { Backend } from "../../src/physical/backend.js";
import { sealTypes } from "../../src/seal/registry.js";
import { createKmsKey, denyAllOnKey, kmsEndpoint, scheduleKeyDeletion } from "../helpers/kms.js";

type Json = Record<string, any>;

/** An in-process node with `seal "awskms"` on `physical` (a second one on the same storage is a restarted node). */
function kmsNode(physical: Backend, kmsKeyId: string, endpoint = kmsEndpoint()) {
  const seal = sealTypes.awskms!(physical, { kms_key_id: kmsKeyId, region: "us-east-1", endpoint, access_key: "test", secret_key: "test" });
  const core = new Core({ physical, storageType: "inmem", seal });
  const app = createApp({ core, maxRequestSize: 1024 * 1024 });
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await app.fetch(
      new Request(`http://strongbox.test/v1/${path}`, {
        method,
        headers: token ? { "x-vault-token": token } : {},
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Json };
  };
  return { core, call };
}

async function initializedKmsNode() {
  const physical = new InmemBackend();
  const keyId = await createKmsKey();
  const node = kmsNode(physical, keyId);
  const init = await node.call("PUT", "sys/init", { recovery_shares: 5, recovery_threshold: 3 });
  expect(init.status, JSON.stringify(init.body)).toBe(200);
  return { ...node, physical, keyId, init: init.body, rootToken: init.body.root_token as string };
}

describe('seal "awskms" (against moto)', () => {
  it("initializes with recovery keys, no unseal keys, and is unsealed at once", async () => {
    const { call, init, rootToken } = await initializedKmsNode();
    expect(init.keys).toEqual([]);
    expect(init.keys_base64).toEqual([]);
    expect(init.recovery_keys).toHaveLength(5);
    expect(init.recovery_keys_base64).toHaveLength(5);
    expect(init.root_token).toMatch(/^hvs\./);
    expect((await call("GET", "sys/seal-status")).body).toMatchObject({
      type: "awskms",
      recovery_seal: true,
      initialized: true,
      sealed: false,
      t: 3,
      n: 5,
    });
    expect((await call("GET", "auth/token/lookup-self", undefined, rootToken)).status).toBe(200);
  });

  it("a restarted node unseals itself with the KMS-encrypted key, no operator input", async () => {
    const { physical, keyId, rootToken } = await initializedKmsNode();
    const restarted = kmsNode(physical, keyId);
    expect(restarted.core.sealed).toBe(true);
    expect(await restarted.core.unsealWithStoredKey()).toBe("unsealed");
    expect((await restarted.call("GET", "auth/token/lookup-self", undefined, rootToken)).status).toBe(200);
  });

  it("waits (uninitialized) when there is nothing to unseal yet", async () => {
    const node = kmsNode(new InmemBackend(), await createKmsKey());
    expect(await node.core.unsealWithStoredKey()).toBe("uninitialized");
    expect(node.core.sealed).toBe(true);
  });

  it("stays sealed after sys/seal until an operator gives the recovery key threshold", async () => {
    const { call, init, rootToken } = await initializedKmsNode();
    expect((await call("PUT", "sys/seal", undefined, rootToken)).status).toBe(204);
    expect((await call("GET", "sys/seal-status")).body.sealed).toBe(true);
    const first = await call("PUT", "sys/unseal", { key: init.recovery_keys_base64[0] });
    expect(first.body).toMatchObject({ sealed: true, progress: 1, t: 3 });
    await call("PUT", "sys/unseal", { key: init.recovery_keys[3] });
    const done = await call("PUT", "sys/unseal", { key: init.recovery_keys_base64[4] });
    expect(done.body).toMatchObject({ sealed: false, type: "awskms" });
  });

  it("refuses recovery keys from another cluster with a 400, and stays sealed", async () => {
    const { call, rootToken } = await initializedKmsNode();
    const other = await initializedKmsNode();
    await call("PUT", "sys/seal", undefined, rootToken);
    await call("PUT", "sys/unseal", { key: other.init.recovery_keys_base64[0] });
    await call("PUT", "sys/unseal", { key: other.init.recovery_keys_base64[1] });
    const last = await call("PUT", "sys/unseal", { key: other.init.recovery_keys_base64[2] });
    expect(last.status).toBe(400);
    expect(last.body.errors[0]).toMatch(/recovery key/);
    expect((await call("GET", "sys/seal-status")).body).toMatchObject({ sealed: true, progress: 0 });
  });

  it("validates recovery_shares/recovery_threshold as Vault does, before writing anything", async () => {
    const { call } = kmsNode(new InmemBackend(), await createKmsKey());
    const cases: [Json, RegExp][] = [
      [{}, /"recovery_shares" is required/],
      [{ recovery_shares: 5 }, /"recovery_threshold" is required/],
      [{ recovery_shares: 3, recovery_threshold: 5 }, /invalid recovery configuration: threshold cannot be larger than shares/],
      [{ recovery_shares: 3, recovery_threshold: 1 }, /threshold must be greater than one/],
      [{ recovery_shares: 0, recovery_threshold: 0 }, /shares must be at least one/],
      [{ recovery_shares: "5", recovery_threshold: 3 }, /"recovery_shares" must be an integer/],
      [{ recovery_shares: 5, recovery_threshold: 3, recovery_pgp_keys: ["x"] }, /recovery_pgp_keys/],
    ];
    for (const [body, message] of cases) {
      const response = await call("PUT", "sys/init", body);
      expect(response.status).toBe(400);
      expect(response.body.errors[0]).toMatch(message);
    }
    expect((await call("GET", "sys/init")).body.initialized).toBe(false);
    // As Vault, secret_shares/secret_threshold mean nothing with an auto seal (its one share is stored).
    const init = await call("PUT", "sys/init", { secret_shares: 5, secret_threshold: 3, recovery_shares: 1, recovery_threshold: 1 });
    expect(init.status).toBe(200);
    expect(init.body.recovery_keys).toHaveLength(1);
  });

  it("a key id KMS does not know: init answers 503 naming the key, and nothing is written", async () => {
    const { call } = kmsNode(new InmemBackend(), "alias/no-such-key");
    const init = await call("PUT", "sys/init", { recovery_shares: 1, recovery_threshold: 1 });
    expect(init.status).toBe(503);
    expect(init.body.errors[0]).toMatch(/alias\/no-such-key.*NotFoundException/);
    expect((await call("GET", "sys/init")).body.initialized).toBe(false);
  });

  it("a restart configured with another key stays sealed and says which key encrypted the barrier key", async () => {
    const { physical, keyId } = await initializedKmsNode();
    const restarted = kmsNode(physical, await createKmsKey());
    await expect(restarted.core.unsealWithStoredKey()).rejects.toThrow(new RegExp(`encrypted with KMS key arn:aws:kms:us-east-1:\\d+:key/${keyId}`));
    expect(restarted.core.sealed).toBe(true);
  });

  it("access denied by the key policy: stays sealed, and the error names AccessDeniedException", async () => {
    const { physical, keyId } = await initializedKmsNode();
    await denyAllOnKey(keyId);
    const restarted = kmsNode(physical, keyId);
    await expect(restarted.core.unsealWithStoredKey()).rejects.toThrow(/AccessDeniedException/);
    expect((await restarted.call("GET", "sys/health")).status).toBe(503);
  });

  it("a key pending deletion: stays sealed, and the error says the key's state", async () => {
    const { physical, keyId } = await initializedKmsNode();
    await scheduleKeyDeletion(keyId);
    const restarted = kmsNode(physical, keyId);
    await expect(restarted.core.unsealWithStoredKey()).rejects.toThrow(/is PendingDeletion, not Enabled/);
    expect(restarted.core.sealed).toBe(true);
  });

  it("a node configured with another seal than the one used at init refuses to unseal, naming both", async () => {
    const { physical, init } = await initializedKmsNode();
    const shamirNode = new Core({ physical, storageType: "inmem" });
    const key = Uint8Array.from(atob(init.recovery_keys_base64[0]), (c) => c.charCodeAt(0));
    await expect(shamirNode.submitUnsealKey(key)).rejects.toThrow(/initialized with the "awskms" seal, but this node is configured with the "shamir" seal/);

    const shamirStorage = new InmemBackend();
    await new Core({ physical: shamirStorage, storageType: "inmem" }).initialize({ secret_shares: 1, secret_threshold: 1 });
    const kmsOnShamir = kmsNode(shamirStorage, await createKmsKey());
    await expect(kmsOnShamir.core.unsealWithStoredKey()).rejects.toThrow(
      /initialized with the "shamir" seal, but this node is configured with the "awskms" seal/,
    );
    const migrate = await kmsOnShamir.call("PUT", "sys/unseal", { key: "AAAA", migrate: true });
    expect(migrate.status).toBe(400);
    expect(migrate.body.errors[0]).toMatch(/no seal migration is pending/);
  });

  it("the Shamir seal refuses recovery parameters (they need an auto-unseal seal)", async () => {
    const core = new Core({ physical: new InmemBackend(), storageType: "inmem" });
    await expect(core.initialize({ secret_shares: 1, secret_threshold: 1, recovery_shares: 5, recovery_threshold: 3 })).rejects.toThrow(/auto-unseal/);
  });
});
