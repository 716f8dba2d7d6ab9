/**
 * Seal migration in process, against moto's KMS: Shamir → awskms and back, the migrate flag's
 * rules, wrong keys, and a migration that another node's change has made stale.
 */
import { describe, expect, it } from "vitest";
import type { SealStanza } from "../../src/config/types.js";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import type { Backend } from "../../src/physical/backend.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { configuredSeal } from "../../src/seal/registry.js";
import { createKmsKey, kmsEndpoint } from "../helpers/kms.js";

type Json = Record<string, any>;

function awskms(kmsKeyId: string, disabled = false): SealStanza {
  return {
    type: "awskms",
    disabled,
    file: "node.hcl",
    options: { kms_key_id: kmsKeyId, region: "us-east-1", endpoint: kmsEndpoint(), access_key: "test", secret_key: "test" },
  };
}

/** An in-process node on `physical` with the given seal stanzas (none: Shamir); a second one on the same storage is a restarted node. */
function node(physical: Backend, stanzas: SealStanza[] = []) {
  const core = new Core({ physical, storageType: "inmem", seal: configuredSeal(stanzas, physical) });
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
  /** Gives each key in turn until the node says it is unsealed; the last answer. */
  const unseal = async (keys: string[], extra: Record<string, unknown> = {}) => {
    let answer = { status: 0, body: {} as Json };
    for (const key of keys) {
      answer = await call("PUT", "sys/unseal", { key, ...extra });
      if (answer.status !== 200 || answer.body.sealed === false) break;
    }
    return answer;
  };
  return { core, call, unseal };
}

const SEAL_CONFIG = "core/seal-config";

/** A Shamir cluster (3 shares, threshold 2) holding kv/app; its keys and root token. */
async function shamirCluster() {
  const physical = new InmemBackend();
  const first = node(physical);
  const init = await first.call("PUT", "sys/init", { secret_shares: 3, secret_threshold: 2 });
  const keys = init.body.keys_base64 as string[];
  const rootToken = init.body.root_token as string;
  await first.unseal(keys);
  expect((await first.call("PUT", "sys/mounts/kv", { type: "kv", options: { version: "1" } }, rootToken)).status).toBe(204);
  expect((await first.call("PUT", "kv/app", { password: "s3cret" }, rootToken)).status).toBe(204);
  await first.core.seal();
  return { physical, keys, rootToken };
}

/** An awskms cluster (recovery 3 shares, threshold 2) holding kv/app. */
async function kmsCluster() {
  const physical = new InmemBackend();
  const keyId = await createKmsKey();
  const first = node(physical, [awskms(keyId)]);
  const init = await first.call("PUT", "sys/init", { recovery_shares: 3, recovery_threshold: 2 });
  expect(init.status, JSON.stringify(init.body)).toBe(200);
  const rootToken = init.body.root_token as string;
  expect((await first.call("PUT", "sys/mounts/kv", { type: "kv", options: { version: "1" } }, rootToken)).status).toBe(204);
  expect((await first.call("PUT", "kv/app", { password: "s3cret" }, rootToken)).status).toBe(204);
  await first.core.seal();
  return { physical, keyId, recoveryKeys: init.body.recovery_keys_base64 as string[], rootToken };
}

async function readApp(target: ReturnType<typeof node>, rootToken: string) {
  const read = await target.call("GET", "kv/app", undefined, rootToken);
  expect(read.status, JSON.stringify(read.body)).toBe(200);
  return read.body.data;
}

describe("seal migration Shamir → awskms", () => {
  it("the node enters migration mode: sealed, no auto-unseal, seal-status names the old seal and its keys", async () => {
    const { physical } = await shamirCluster();
    const migrating = node(physical, [awskms(await createKmsKey())]);
    expect((await migrating.call("GET", "sys/seal-status")).body).toMatchObject({
      type: "shamir",
      sealed: true,
      migration: true,
      recovery_seal: false,
      t: 2,
      n: 3,
    });
    await expect(migrating.core.unsealWithStoredKey()).rejects.toThrow(/seal migration from "shamir" to "awskms" is pending/);
    expect(migrating.core.sealed).toBe(true);
  });

  it("unseal without migrate is refused with a 400 that says what to do, and counts no key", async () => {
    const { physical, keys } = await shamirCluster();
    const migrating = node(physical, [awskms(await createKmsKey())]);
    const answer = await migrating.call("PUT", "sys/unseal", { key: keys[0] });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0]).toBe(
      'seal migration from "shamir" to "awskms" is pending: unseal with "migrate": true (operator unseal -migrate) and the shamir seal\'s unseal keys',
    );
    expect((await migrating.call("GET", "sys/seal-status")).body.progress).toBe(0);
  });

  it("wrong keys with migrate: 400, still sealed and migrating, the stored seal configuration untouched", async () => {
    const { physical } = await shamirCluster();
    const { keys: otherKeys } = await shamirCluster();
    const before = await physical.get(SEAL_CONFIG);
    const migrating = node(physical, [awskms(await createKmsKey())]);
    const answer = await migrating.unseal(otherKeys, { migrate: true });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0]).toMatch(/do not open the barrier/);
    expect(await physical.get(SEAL_CONFIG)).toEqual(before);
    expect((await migrating.call("GET", "sys/seal-status")).body).toMatchObject({ sealed: true, migration: true, type: "shamir" });
  });

  it("the old unseal keys with migrate: unsealed on awskms, the unseal keys became recovery keys, a restart unseals itself", async () => {
    const { physical, keys, rootToken } = await shamirCluster();
    const keyId = await createKmsKey();
    const migrating = node(physical, [awskms(keyId)]);
    const answer = await migrating.unseal(keys, { migrate: true });
    expect(answer.body).toMatchObject({ sealed: false, type: "awskms", recovery_seal: true, migration: false, t: 2, n: 3 });
    expect(await readApp(migrating, rootToken)).toEqual({ password: "s3cret" });
    await migrating.core.seal();

    const restarted = node(physical, [awskms(keyId)]);
    expect(await restarted.core.unsealWithStoredKey()).toBe("unsealed");
    expect(await readApp(restarted, rootToken)).toEqual({ password: "s3cret" });
    // The former unseal keys authorize as recovery keys after sys/seal.
    await restarted.core.seal();
    expect((await restarted.unseal(keys)).body).toMatchObject({ sealed: false, type: "awskms" });

    // A Shamir-only node now refuses, naming the stored seal.
    const stale = node(physical);
    const refused = await stale.call("PUT", "sys/unseal", { key: keys[0] });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0]).toMatch(/initialized with the "awskms" seal, but this node is configured with the "shamir" seal/);
  });

  it("an explicit disabled shamir stanza is the same migration", async () => {
    const { physical, keys } = await shamirCluster();
    const migrating = node(physical, [{ type: "shamir", disabled: true, options: {}, file: "node.hcl" }, awskms(await createKmsKey())]);
    expect((await migrating.unseal(keys, { migrate: true })).body).toMatchObject({ sealed: false, type: "awskms" });
  });
});

describe("seal migration awskms → Shamir", () => {
  it("a disabled awskms stanza alone: migration mode; the recovery keys with migrate unseal and become the unseal keys", async () => {
    const { physical, keyId, recoveryKeys, rootToken } = await kmsCluster();
    const migrating = node(physical, [awskms(keyId, true)]);
    expect(migrating.core.unsealsItself).toBe(false);
    expect((await migrating.call("GET", "sys/seal-status")).body).toMatchObject({
      type: "awskms",
      recovery_seal: true,
      sealed: true,
      migration: true,
      t: 2,
      n: 3,
    });
    const refused = await migrating.call("PUT", "sys/unseal", { key: recoveryKeys[0] });
    expect(refused.body.errors[0]).toMatch(/and the awskms seal's recovery keys$/);

    expect((await migrating.unseal(recoveryKeys, { migrate: true })).body).toMatchObject({
      sealed: false,
      type: "shamir",
      recovery_seal: false,
      migration: false,
      t: 2,
      n: 3,
    });
    expect(await readApp(migrating, rootToken)).toEqual({ password: "s3cret" });
    await migrating.core.seal();

    // Restarted with no seal stanza: sealed until the former recovery keys are given.
    const restarted = node(physical);
    expect((await restarted.call("GET", "sys/seal-status")).body).toMatchObject({ type: "shamir", sealed: true, migration: false, t: 2, n: 3 });
    expect((await restarted.unseal(recoveryKeys.slice(1))).body).toMatchObject({ sealed: false });
    expect(await readApp(restarted, rootToken)).toEqual({ password: "s3cret" });
  });

  it("wrong recovery keys with migrate: 400 and nothing changed; then Shamir with wrong keys refuses too", async () => {
    const { physical, keyId, recoveryKeys } = await kmsCluster();
    const { recoveryKeys: otherKeys } = await kmsCluster();
    const before = await physical.get(SEAL_CONFIG);
    const migrating = node(physical, [awskms(keyId, true)]);
    const answer = await migrating.unseal(otherKeys, { migrate: true });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0]).toMatch(/do not rebuild this cluster's recovery key/);
    expect(await physical.get(SEAL_CONFIG)).toEqual(before);

    await migrating.unseal(recoveryKeys, { migrate: true });
    await migrating.core.seal();
    const restarted = node(physical);
    const wrong = await restarted.unseal(otherKeys);
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors[0]).toMatch(/do not unlock this cluster's root key/);
  });

  it("round trip Shamir → awskms → Shamir with the original unseal keys throughout", async () => {
    const { physical, keys, rootToken } = await shamirCluster();
    const keyId = await createKmsKey();
    const toKms = node(physical, [awskms(keyId)]);
    await toKms.unseal(keys, { migrate: true });
    await toKms.core.seal();
    const back = node(physical, [awskms(keyId, true)]);
    expect((await back.unseal(keys, { migrate: true })).body).toMatchObject({ sealed: false, type: "shamir" });
    await back.core.seal();
    const shamir = node(physical);
    await shamir.unseal(keys);
    expect(await readApp(shamir, rootToken)).toEqual({ password: "s3cret" });
  });
});

describe("the migrate flag", () => {
  it("is refused (400) on a node with no migration pending, Shamir or awskms", async () => {
    const { physical, keys } = await shamirCluster();
    const shamir = node(physical);
    const answer = await shamir.call("PUT", "sys/unseal", { key: keys[0], migrate: true });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0]).toBe(
      '"migrate" was given, but no seal migration is pending on this node (its configured seal "shamir" is the stored one); unseal without it',
    );
    expect((await shamir.call("GET", "sys/seal-status")).body).toMatchObject({ progress: 0, migration: false });

    const { physical: kmsStorage, keyId, recoveryKeys } = await kmsCluster();
    const kms = node(kmsStorage, [awskms(keyId)]);
    expect((await kms.call("GET", "sys/seal-status")).body).toMatchObject({ type: "awskms", migration: false });
    const kmsAnswer = await kms.call("PUT", "sys/unseal", { key: recoveryKeys[0], migrate: true });
    expect(kmsAnswer.status).toBe(400);
    expect(kmsAnswer.body.errors[0]).toMatch(/no seal migration is pending/);
  });

  it("must be a boolean", async () => {
    const { physical, keys } = await shamirCluster();
    const answer = await node(physical).call("PUT", "sys/unseal", { key: keys[0], migrate: "yes" });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0]).toBe('"migrate" must be a boolean (got "yes")');
  });
});
