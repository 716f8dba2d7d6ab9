import { beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

async function transitServer(): Promise<InProcessServer> {
  const server = await unsealedServer();
  const mounted = await server.call("POST", "sys/mounts/transit", { type: "transit" }, server.root);
  if (mounted.status !== 204) throw new Error(`mount: ${JSON.stringify(mounted)}`);
  return server;
}

describe("transit keys", () => {
  let server: InProcessServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, `transit/${path}`, body, server.root);
  beforeAll(async () => {
    server = await transitServer();
  });

  it("creates every key type and reads it back in Vault's shape", async () => {
    const symmetric = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "hmac"];
    for (const type of [...symmetric, "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"]) {
      const created = await call("POST", `keys/shape-${type}`, { type });
      expect(created.status, type).toBe(200);
      const read = await call("GET", `keys/shape-${type}`);
      expect(read.status).toBe(200);
      expect(read.body.data).toMatchObject({
        name: `shape-${type}`,
        type,
        latest_version: 1,
        min_decryption_version: 1,
        min_encryption_version: 0,
        deletion_allowed: false,
        exportable: false,
      });
      const version = read.body.data.keys["1"];
      if (symmetric.includes(type)) {
        expect(typeof version).toBe("number");
        expect(Math.abs(version - Date.now() / 1000)).toBeLessThan(60);
      } else {
        expect(version.public_key).not.toBe("");
        expect(typeof version.creation_time).toBe("string");
      }
    }
    const ecdsa = (await call("GET", "keys/shape-ecdsa-p256")).body.data.keys["1"];
    expect(ecdsa.name).toBe("P-256");
    expect(ecdsa.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const aes = (await call("GET", "keys/shape-aes256-gcm96")).body.data;
    expect(aes).toMatchObject({ supports_encryption: true, supports_decryption: true, supports_signing: false, supports_derivation: true });
    expect((await call("GET", "keys/shape-hmac")).body.data.key_size).toBe(32);
  });

  it("lists keys, and answers a missing key with 404", async () => {
    await call("POST", "keys/listed-a");
    await call("POST", "keys/listed-b");
    const list = await call("LIST", "keys");
    expect(list.body.data.keys).toEqual(expect.arrayContaining(["listed-a", "listed-b"]));
    expect((await call("GET", "keys/never-made")).status).toBe(404);
  });

  it("refuses bad key settings with Vault's errors", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: "aes512" }, "unknown key type aes512"],
      [{ convergent_encryption: true }, "convergent encryption requires derivation to be enabled"],
      [{ type: "ecdsa-p256", derived: true }, "key derivation and convergent encryption not supported for keys of type ecdsa-p256"],
      [{ type: "aes256-gcm96", key_size: 64 }, "key_size is not valid for algorithm aes256-gcm96"],
      [{ type: "hmac", key_size: 8 }, "invalid key_size 8"],
      [{ auto_rotate_period: "10m" }, "auto rotate period must be 0 to disable or at least an hour"],
      [{ derived: "maybe" }, 'invalid derived "maybe": expected true or false'],
    ];
    for (const [body, error] of cases) {
      const answer = await call("POST", "keys/bad-settings", body);
      expect(answer, JSON.stringify(body)).toMatchObject({ status: 400, body: { errors: [error] } });
    }
    expect((await call("GET", "keys/bad-settings")).status).toBe(404);
  });

  it("has no route for names Vault's pattern refuses", async () => {
    const answer = await call("POST", "keys/bad%20name");
    expect(answer.status).toBe(404);
    expect((await call("POST", "encrypt/-x", { plaintext: b64("a") })).status).toBe(404);
  });

  it("rotates, and enforces min_decryption_version and min_encryption_version", async () => {
    await call("POST", "keys/rotating");
    const v1 = (await call("POST", "encrypt/rotating", { plaintext: b64("one") })).body.data.ciphertext;
    const rotated = await call("POST", "keys/rotating/rotate");
    expect(rotated.body.data.latest_version).toBe(2);
    const v2 = await call("POST", "encrypt/rotating", { plaintext: b64("two") });
    expect(v2.body.data).toMatchObject({ key_version: 2 });
    expect(v2.body.data.ciphertext).toMatch(/^vault:v2:/);
    expect((await call("POST", "decrypt/rotating", { ciphertext: v1 })).body.data.plaintext).toBe(b64("one"));

    const configured = await call("POST", "keys/rotating/config", { min_decryption_version: 2, min_encryption_version: 2 });
    expect(configured.body.data).toMatchObject({ min_decryption_version: 2, min_encryption_version: 2 });
    expect(await call("POST", "decrypt/rotating", { ciphertext: v1 })).toMatchObject({
      status: 400,
      body: { errors: ["ciphertext or signature version is disallowed by policy (too old)"] },
    });
    expect(await call("POST", "encrypt/rotating", { plaintext: b64("x"), key_version: 1 })).toMatchObject({
      status: 400,
      body: { errors: ["requested version for encryption is less than the minimum encryption key version"] },
    });
    expect((await call("POST", "keys/rotating/config", { min_decryption_version: 9 })).body.errors).toEqual([
      "cannot set min decryption version of 9, latest key version is 2",
    ]);
    expect((await call("POST", "rewrap/rotating", { ciphertext: v2.body.data.ciphertext.replace("vault:v2:", "vault:v3:") })).body.errors).toEqual([
      "invalid ciphertext: version is too new",
    ]);
  });

  it("trims versions below min_available_version", async () => {
    await call("POST", "keys/trimmed");
    await call("POST", "keys/trimmed/rotate");
    await call("POST", "keys/trimmed/rotate");
    expect((await call("POST", "keys/trimmed/trim", { min_available_version: 2 })).body.errors).toEqual([
      "minimum available version cannot be set when minimum encryption version is not set",
    ]);
    await call("POST", "keys/trimmed/config", { min_decryption_version: 2, min_encryption_version: 3 });
    const trimmed = await call("POST", "keys/trimmed/trim", { min_available_version: 2 });
    expect(trimmed.status).toBe(200);
    expect(Object.keys(trimmed.body.data.keys).sort()).toEqual(["2", "3"]);
    expect((await call("POST", "keys/trimmed/trim", { min_available_version: 1 })).body.errors).toEqual(["minimum available version cannot be decremented"]);
  });

  it("deletes a key only once deletion_allowed is set", async () => {
    await call("POST", "keys/doomed");
    expect(await call("DELETE", "keys/doomed")).toMatchObject({
      status: 400,
      body: { errors: ["error deleting policy doomed: deletion is not allowed for this key"] },
    });
    expect((await call("GET", "keys/doomed")).status).toBe(200);
    await call("POST", "keys/doomed/config", { deletion_allowed: true });
    expect((await call("DELETE", "keys/doomed")).status).toBe(204);
    expect((await call("GET", "keys/doomed")).status).toBe(404);
    expect((await call("POST", "encrypt/doomed", { plaintext: b64("x"), type: "rsa-2048" })).body.errors).toEqual(["unknown key type rsa-2048"]);
  });

  it("exports only exportable keys, and never turns exportable off", async () => {
    await call("POST", "keys/sealed-in");
    expect(await call("GET", "export/encryption-key/sealed-in")).toMatchObject({ status: 400, body: { errors: ["private key material is not exportable"] } });
    expect((await call("GET", "export/nonsense-key/sealed-in")).body.errors).toEqual(["invalid export type: nonsense-key"]);
    await call("POST", "keys/sealed-in/config", { exportable: true });
    await call("POST", "keys/sealed-in/config", { exportable: false });
    const exported = await call("GET", "export/encryption-key/sealed-in/latest");
    expect(exported.status).toBe(200);
    expect(Buffer.from(exported.body.data.keys["1"], "base64")).toHaveLength(32);
    expect((await call("GET", "export/signing-key/sealed-in")).body.errors).toEqual(["signing not supported for the key"]);
    expect((await call("GET", "export/encryption-key/sealed-in/7")).body.errors).toEqual(["version does not exist or cannot be found"]);
  });

  it("creates a key on first encrypt (upsert), derived when a context is given", async () => {
    const first = await call("POST", "encrypt/upserted", { plaintext: b64("x"), context: b64("ctx"), type: "chacha20-poly1305" });
    expect(first.status).toBe(200);
    expect((await call("GET", "keys/upserted")).body.data).toMatchObject({ type: "chacha20-poly1305", derived: true, kdf: "hkdf_sha256" });
    expect((await call("POST", "encrypt/upserted-ec", { plaintext: b64("x"), type: "ecdsa-p256" })).body.errors).toEqual([
      "key type ecdsa-p256 not supported for this operation",
    ]);
  });

  it("stops encrypt from creating keys once config/keys disables upsert, for that mount only, kept in its storage", async () => {
    const strict = (method: string, path: string, body?: unknown) => server.call(method, `strict/${path}`, body, server.root);
    expect((await server.call("POST", "sys/mounts/strict", { type: "transit" }, server.root)).status).toBe(204);
    expect((await strict("GET", "config/keys")).body.data).toEqual({ disable_upsert: false });
    expect(await strict("POST", "config/keys", { disable_upsert: true })).toMatchObject({ status: 200, body: { data: { disable_upsert: true } } });

    expect(await strict("POST", "encrypt/missing", { plaintext: b64("x") })).toMatchObject({ status: 400, body: { errors: ["encryption key not found"] } });
    expect((await strict("GET", "keys/missing")).status).toBe(404);
    // The type is checked first, as Vault does.
    expect((await strict("POST", "encrypt/missing", { plaintext: b64("x"), type: "rsa-2048" })).body.errors).toEqual(["unknown key type rsa-2048"]);
    expect((await strict("POST", "keys/present", {})).status).toBe(200);
    expect((await strict("POST", "encrypt/present", { plaintext: b64("x") })).status).toBe(200);
    expect((await call("POST", "encrypt/elsewhere", { plaintext: b64("x") })).status).toBe(200);

    // Kept at Vault's path in the mount's storage (beneath the barrier), not in the engine's memory.
    const { uuid } = (await server.call("GET", "sys/mounts", undefined, server.root)).body.data["strict/"];
    expect(await server.physical.list(`logical/${uuid}/config/`)).toContain("keys");
    // Writing it without the field turns upsert back on, as Vault's default does.
    expect((await strict("POST", "config/keys", {})).body.data).toEqual({ disable_upsert: false });
    expect((await strict("POST", "encrypt/missing", { plaintext: b64("x") })).status).toBe(200);
  });

  it("rotates a key whose auto_rotate_period has passed at its next encrypt", async () => {
    await call("POST", "keys/aging", { auto_rotate_period: "1h", exportable: true, allow_plaintext_backup: true });
    expect((await call("GET", "keys/aging")).body.data.auto_rotate_period).toBe(3600);
    expect((await call("POST", "encrypt/aging", { plaintext: b64("fresh") })).body.data.key_version).toBe(1);
    // A restored copy whose only version was made two hours ago.
    const backup = JSON.parse(Buffer.from((await call("GET", "backup/aging")).body.data.backup, "base64").toString());
    backup.policy.keys["1"].creation_time = new Date(Date.now() - 2 * 3600_000).toISOString();
    await call("POST", "restore/aged", { backup: Buffer.from(JSON.stringify(backup)).toString("base64") });
    expect((await call("POST", "encrypt/aged", { plaintext: b64("old") })).body.data.key_version).toBe(2);
    expect((await call("POST", "encrypt/aged", { plaintext: b64("old") })).body.data.key_version).toBe(2);
    expect((await call("GET", "keys/aged")).body.data.latest_version).toBe(2);
  });

  it("serves and stores cache-config", async () => {
    expect((await call("GET", "cache-config")).body.data).toEqual({ size: 0 });
    expect((await call("POST", "cache-config", { size: 3 })).body.errors).toEqual(["size must be 0 or a value greater or equal to 10"]);
    expect((await call("POST", "cache-config", { size: 50 })).status).toBe(200);
    expect((await call("GET", "cache-config")).body.data).toEqual({ size: 50 });
  });
});

describe("transit backup and restore", () => {
  it("restores a backup into another server, which decrypts the old ciphertexts", async () => {
    const source = await transitServer();
    const target = await transitServer();
    const onSource = (method: string, path: string, body?: unknown) => source.call(method, `transit/${path}`, body, source.root);
    const onTarget = (method: string, path: string, body?: unknown) => target.call(method, `transit/${path}`, body, target.root);
    await onSource("POST", "keys/moving", { type: "aes256-gcm96" });
    expect(await onSource("GET", "backup/moving")).toMatchObject({ status: 400, body: { errors: ["exporting is disallowed on the policy"] } });
    await onSource("POST", "keys/moving/config", { exportable: true });
    expect((await onSource("GET", "backup/moving")).body.errors).toEqual(["plaintext backup is disallowed on the policy"]);
    await onSource("POST", "keys/moving/config", { allow_plaintext_backup: true });
    const old = (await onSource("POST", "encrypt/moving", { plaintext: b64("before") })).body.data.ciphertext;
    await onSource("POST", "keys/moving/rotate");
    const recent = (await onSource("POST", "encrypt/moving", { plaintext: b64("after") })).body.data.ciphertext;
    const backup = (await onSource("GET", "backup/moving")).body.data.backup;
    expect((await onSource("GET", "keys/moving")).body.data.backup_info.version).toBe(2);

    expect((await onTarget("POST", "restore", { backup })).status).toBe(204);
    expect((await onTarget("POST", "decrypt/moving", { ciphertext: old })).body.data.plaintext).toBe(b64("before"));
    expect((await onTarget("POST", "decrypt/moving", { ciphertext: recent })).body.data.plaintext).toBe(b64("after"));
    expect((await onTarget("GET", "keys/moving")).body.data.restore_info.version).toBe(2);
    expect((await onTarget("POST", "restore", { backup })).body.errors).toEqual(['key "moving" already exists']);
    expect((await onTarget("POST", "restore/renamed", { backup })).status).toBe(204);
    expect((await onTarget("POST", "decrypt/renamed", { ciphertext: old })).body.data.plaintext).toBe(b64("before"));
    expect((await onTarget("POST", "restore", { backup: "bm90IGEgYmFja3Vw" })).body.errors).toEqual(["invalid backup: not a transit key backup"]);
    const stripped = JSON.parse(Buffer.from(backup, "base64").toString());
    delete stripped.policy.keys["1"].key;
    const hollow = Buffer.from(JSON.stringify(stripped)).toString("base64");
    expect((await onTarget("POST", "restore/hollow", { backup: hollow })).body.errors).toEqual(["invalid backup: not a transit key backup"]);
    expect((await onTarget("POST", "restore", {})).body.errors).toEqual(["'backup' must be supplied"]);
  });
});
