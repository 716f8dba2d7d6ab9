/**
 * BYOK beyond a private key coming in: byok-export between two mounts (Vault's way of sharing a
 * key between clusters), its output unwrapped by OpenSSL, public keys imported alone and completed
 * later, and SHA-224 as the OAEP hash where the runtime supplies it.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign as nodeSign,
} from "node:crypto";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { nodeRsaOaep } from "../../adapters/node/server/node-rsa-oaep.js";
import { installPlatformCrypto } from "../../src/sdk/platform-crypto.js";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

/** RFC 5649's alternative initial value: OpenSSL's `id-aes256-wrap-pad` wants it as the IV. */
const KWP_IV = Buffer.from("a65959a6", "hex");
const b64 = (bytes: string | Buffer) => Buffer.from(bytes).toString("base64");
const message = Buffer.from("signed before the move");

/** What Vault's CLI sends to `import`: RSA-OAEP(ephemeral AES-256 key) ‖ AES-KWP(material), by OpenSSL. */
function wrapForImport(wrappingKeyPem: string, material: Buffer, oaepHash = "sha256"): string {
  const aesKey = randomBytes(32);
  const wrappedAesKey = publicEncrypt({ key: wrappingKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, aesKey);
  const kwp = createCipheriv("id-aes256-wrap-pad", aesKey, KWP_IV);
  return Buffer.concat([wrappedAesKey, kwp.update(material), kwp.final()]).toString("base64");
}

/** The material inside a byok-export, unwrapped by OpenSSL with the destination's private key. */
function unwrapOutside(wrapped: string, privateKey: KeyObject, oaepHash = "sha256"): Buffer {
  const bytes = Buffer.from(wrapped, "base64");
  const modulusBytes = privateKey.asymmetricKeyDetails!.modulusLength! / 8;
  const aesKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, bytes.subarray(0, modulusBytes));
  const kwp = createDecipheriv("id-aes256-wrap-pad", aesKey, KWP_IV);
  return Buffer.concat([kwp.update(bytes.subarray(modulusBytes)), kwp.final()]);
}

const pkcs8Of = (key: KeyObject) => key.export({ format: "der", type: "pkcs8" });
const pemOf = (key: KeyObject) => key.export({ format: "pem", type: "spki" }) as string;

describe("transit BYOK export, public keys and SHA-224", () => {
  let server: InProcessServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, body, server.root);
  const data = async (method: string, path: string, body?: unknown) => {
    const answer = await call(method, path, body);
    if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.data;
  };
  const ok = async (path: string, body: unknown) => {
    const answer = await call("POST", path, body);
    if (answer.status !== 204) throw new Error(`${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  };
  const refused = async (method: string, path: string, body: unknown, error: string) => {
    const answer = await call(method, path, body);
    expect(answer.status, path).toBe(400);
    expect(answer.body.errors, path).toEqual([error]);
  };
  const wrappingKeyOf = async (mount: string) => (await data("GET", `${mount}/wrapping_key`)).public_key as string;

  beforeAll(async () => {
    server = await unsealedServer();
    for (const mount of ["source", "destination"]) expect((await call("POST", `sys/mounts/${mount}`, { type: "transit" })).status).toBe(204);
  });

  afterEach(() => installPlatformCrypto({}));

  it("moves keys, every version, to another mount that imports them, as Vault's cookbook does", async () => {
    // The destination's wrapping key becomes a public-only key of the source mount.
    await ok("source/keys/to-destination/import", { type: "rsa-4096", public_key: await wrappingKeyOf("destination") });
    expect((await data("GET", "source/keys/to-destination")).imported_key).toBe(true);

    await data("POST", "source/keys/shared-aes", { exportable: true });
    const before = (await data("POST", "source/encrypt/shared-aes", { plaintext: b64("version one") })).ciphertext;
    await data("POST", "source/keys/shared-aes/rotate");
    const after = (await data("POST", "source/encrypt/shared-aes", { plaintext: b64("version two") })).ciphertext;
    const signatures: Record<string, string> = {};
    for (const type of ["ecdsa-p384", "ed25519", "rsa-2048"]) {
      await data("POST", `source/keys/shared-${type}`, { type, exportable: true });
      signatures[type] = (await data("POST", `source/sign/shared-${type}`, { input: b64(message) })).signature;
    }
    await data("POST", "source/keys/shared-hmac", { type: "hmac", exportable: true });
    const mac = (await data("POST", "source/hmac/shared-hmac", { input: b64(message) })).hmac;

    const exported = await data("GET", "source/byok-export/to-destination/shared-aes");
    expect(exported).toMatchObject({ name: "shared-aes", type: "aes256-gcm96" });
    expect(Object.keys(exported.keys).sort()).toEqual(["1", "2"]);
    await ok("destination/keys/shared-aes/import", { ciphertext: exported.keys["1"] });
    await ok("destination/keys/shared-aes/import_version", { ciphertext: exported.keys["2"] });
    for (const [ciphertext, plaintext] of [
      [before, "version one"],
      [after, "version two"],
    ]) {
      expect((await data("POST", "destination/decrypt/shared-aes", { ciphertext })).plaintext).toBe(b64(plaintext!));
    }

    for (const type of ["ecdsa-p384", "ed25519", "rsa-2048"]) {
      const { keys } = await data("GET", `source/byok-export/to-destination/shared-${type}/latest`);
      expect(Object.keys(keys)).toEqual(["1"]);
      await ok(`destination/keys/shared-${type}/import`, { type, ciphertext: keys["1"] });
      expect((await data("POST", `destination/verify/shared-${type}`, { input: b64(message), signature: signatures[type] })).valid, type).toBe(true);
      expect((await data("GET", `destination/keys/shared-${type}`)).keys["1"].public_key).toBe(
        (await data("GET", `source/keys/shared-${type}`)).keys["1"].public_key,
      );
    }

    const { keys } = await data("GET", "source/byok-export/to-destination/shared-hmac/v1?hash=SHA512");
    await refused("POST", "destination/keys/shared-hmac/import", { type: "hmac", ciphertext: keys["1"] }, "crypto/rsa: decryption error");
    await ok("destination/keys/shared-hmac/import", { type: "hmac", ciphertext: keys["1"], hash_function: "SHA512" });
    expect((await data("POST", "destination/verify/shared-hmac", { input: b64(message), hmac: mac })).valid).toBe(true);
  });

  it("wraps to any RSA key as OpenSSL unwraps it: the raw key, or PKCS #8 of the private key", async () => {
    const outside = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await ok("source/keys/outside/import", { type: "rsa-2048", public_key: pemOf(outside.publicKey) });

    await data("POST", "source/keys/plain", { type: "chacha20-poly1305", exportable: true });
    const raw = (await data("GET", "source/export/encryption-key/plain/1")).keys["1"];
    const wrapped = (await data("GET", "source/byok-export/outside/plain/1")).keys["1"];
    expect(unwrapOutside(wrapped, outside.privateKey).toString("base64")).toBe(raw);
    const sha384 = (await data("GET", "source/byok-export/outside/plain/1?hash=sha384")).keys["1"];
    expect(unwrapOutside(sha384, outside.privateKey, "sha384").toString("base64")).toBe(raw);

    await data("POST", "source/keys/ec", { type: "ecdsa-p256", exportable: true });
    const signingKey = createPrivateKey((await data("GET", "source/export/signing-key/ec/1?format=pem")).keys["1"]);
    const unwrapped = createPrivateKey({
      key: unwrapOutside((await data("GET", "source/byok-export/outside/ec")).keys["1"], outside.privateKey),
      format: "der",
      type: "pkcs8",
    });
    expect(unwrapped.export({ format: "jwk" })).toEqual(signingKey.export({ format: "jwk" }));

    await data("POST", "source/keys/ed", { type: "ed25519", exportable: true });
    const seed = (await data("GET", "source/export/signing-key/ed/1?format=der")).keys["1"];
    expect(unwrapOutside((await data("GET", "source/byok-export/outside/ed/1")).keys["1"], outside.privateKey).toString("base64")).toBe(seed);
  });

  it("refuses byok-export with Vault's errors", async () => {
    await data("POST", "source/keys/sealed-in", {});
    await data("POST", "source/keys/free", { exportable: true });
    await data("POST", "source/keys/ec-destination", { type: "ecdsa-p256" });
    await ok("source/keys/rsa-destination/import", { type: "rsa-2048", public_key: pemOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey) });
    await refused("GET", "source/byok-export/absent/free", undefined, "no such destination key to export to");
    await refused("GET", "source/byok-export/rsa-destination/absent", undefined, "no such source key for export");
    await refused("GET", "source/byok-export/rsa-destination/sealed-in", undefined, "key is not exportable");
    await refused("GET", "source/byok-export/sealed-in/free", undefined, "message signing not supported for key type aes256-gcm96");
    await refused("GET", "source/byok-export/ec-destination/free", undefined, "unsupported key type in use; must be a rsa key");
    await refused("GET", "source/byok-export/rsa-destination/free/7", undefined, "version does not exist or cannot be found");
    await refused("GET", "source/byok-export/rsa-destination/free/seven", undefined, "invalid key version");
    await refused("GET", "source/byok-export/rsa-destination/free?hash=MD5", undefined, "unknown hash function: MD5");
    // A public key alone has no private part to hand over.
    await ok("source/keys/public-only/import", { type: "rsa-2048", public_key: pemOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey) });
    await data("POST", "source/keys/public-only/config", { exportable: true });
    await refused("GET", "source/byok-export/rsa-destination/public-only", undefined, "requested version for export does not contain a private part");
    expect((await call("GET", "source/byok-export/rsa-destination/bad%20name")).status).toBe(404);
  });

  it("imports a public key alone: it verifies and encrypts, but neither signs nor decrypts", async () => {
    const cases = [
      { type: "ecdsa-p256", pair: generateKeyPairSync("ec", { namedCurve: "P-256" }), hash: "sha256", options: {} },
      { type: "ed25519", pair: generateKeyPairSync("ed25519"), hash: null, options: {} },
      { type: "rsa-2048", pair: generateKeyPairSync("rsa", { modulusLength: 2048 }), hash: "sha256", options: { signature_algorithm: "pkcs1v15" } },
    ];
    for (const { type, pair, hash, options } of cases) {
      const name = `public-${type}`;
      await ok(`source/keys/${name}/import`, { type, public_key: pemOf(pair.publicKey) });
      const read = await data("GET", `source/keys/${name}`);
      expect(read, type).toMatchObject({ type, imported_key: true, latest_version: 1, supports_signing: true });
      const signature = `vault:v1:${nodeSign(hash, message, pair.privateKey).toString("base64")}`;
      expect((await data("POST", `source/verify/${name}`, { input: b64(message), signature, ...options })).valid, type).toBe(true);
      expect((await data("POST", `source/verify/${name}`, { input: b64("another message"), signature, ...options })).valid, type).toBe(false);
      await refused("POST", `source/sign/${name}`, { input: b64(message), ...options }, "requested version for signing does not contain a private part");
      expect((await data("GET", `source/export/public-key/${name}/1`)).keys["1"].trim()).toBe(read.keys["1"].public_key.trim());
    }

    const rsa = cases[2]!.pair;
    const encrypted = (await data("POST", "source/encrypt/public-rsa-2048", { plaintext: b64("for the private key's holder") })).ciphertext as string;
    const sealed = Buffer.from(encrypted.slice("vault:v1:".length), "base64");
    expect(privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, sealed).toString()).toBe(
      "for the private key's holder",
    );
    await refused(
      "POST",
      "source/decrypt/public-rsa-2048",
      { ciphertext: encrypted },
      "cannot decrypt ciphertext, key version does not have a private counterpart",
    );
    await data("POST", "source/keys/public-rsa-2048/config", { exportable: true });
    expect((await data("GET", "source/export/signing-key/public-rsa-2048")).keys).toEqual({ "1": "" });
  });

  it("refuses public keys Vault refuses, with its errors", async () => {
    const rsa3072 = pemOf(generateKeyPairSync("rsa", { modulusLength: 3072 }).publicKey);
    const p384 = pemOf(generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey);
    const ed = pemOf(generateKeyPairSync("ed25519").publicKey);
    const importing = (name: string, body: Record<string, unknown>, error: string) => refused("POST", `source/keys/${name}/import`, body, error);
    await importing("p1", { public_key: ed }, "provided type does not support public_key import");
    await importing("p2", { type: "hmac", public_key: ed }, "provided type does not support public_key import");
    await importing("p3", { type: "ecdsa-p256", public_key: rsa3072 }, "error importing key: invalid key type: expected ecdsa-p256, got *rsa.PublicKey");
    await importing("p4", { type: "rsa-2048", public_key: ed }, "error importing key: invalid key type: expected rsa-2048, got ed25519.PublicKey");
    await importing("p5", { type: "ecdsa-p256", public_key: p384 }, "error importing key: invalid curve: expected P-256, got P-384");
    await importing("p6", { type: "rsa-2048", public_key: rsa3072 }, "error importing key: invalid key size: expected 256 bytes, got 384 bytes");
    await importing("p7", { type: "ed25519", public_key: "not a key" }, "error importing key: error parsing public key: not in PEM format");
    await importing("p8", { type: "ecdsa-p256" }, "error importing key: error parsing public key: not in PEM format");
    await importing(
      "p9",
      { type: "ed25519", derived: true, public_key: ed },
      "error importing key: unable to import only public key for derived Ed25519 key: imported key should not be an Ed25519 key pair but is instead an HKDF key",
    );
    await importing("p10", { type: "RSA-2048", public_key: ed }, "error importing key: invalid key type: expected rsa-2048, got ed25519.PublicKey");
    await importing("p11", { type: "rsa-1024", public_key: ed }, "unknown key type: rsa-1024");
    for (const name of ["p1", "p3", "p5", "p9"]) expect((await call("GET", `source/keys/${name}`)).status).toBe(404);
  });

  it("completes a public-only version with its private key later, named by version or as the latest", async () => {
    const wrappingKey = await wrappingKeyOf("source");
    const first = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const second = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await ok("source/keys/later/import", { type: "ecdsa-p256", public_key: pemOf(first.publicKey) });
    await ok("source/keys/later/import_version", { public_key: pemOf(second.publicKey) });
    expect((await data("GET", "source/keys/later")).latest_version).toBe(2);

    const importVersion = (body: Record<string, unknown>) => call("POST", "source/keys/later/import_version", body);
    await refused(
      "POST",
      "source/keys/later/import_version",
      { version: 1, ciphertext: wrapForImport(wrappingKey, pkcs8Of(stranger.privateKey)) },
      "cannot import key, key pair does not match",
    );
    await refused(
      "POST",
      "source/keys/later/import_version",
      { version: 1, public_key: pemOf(first.publicKey) },
      "cannot add a public key to a key version that already has a public key set",
    );
    await refused(
      "POST",
      "source/keys/later/import_version",
      { version: 9, ciphertext: wrapForImport(wrappingKey, pkcs8Of(first.privateKey)) },
      "no such key version",
    );
    expect((await importVersion({ version: 1, ciphertext: wrapForImport(wrappingKey, pkcs8Of(first.privateKey)) })).status).toBe(204);
    await refused(
      "POST",
      "source/keys/later/import_version",
      { version: 1, ciphertext: wrapForImport(wrappingKey, pkcs8Of(first.privateKey)) },
      "private key imported, key version cannot be updated",
    );
    const signature = (await data("POST", "source/sign/later", { input: b64(message), key_version: 1 })).signature;
    expect(signature).toMatch(/^vault:v1:/);
    await refused("POST", "source/sign/later", { input: b64(message) }, "requested version for signing does not contain a private part");

    // No version named: the latest, still public-only, takes its private key; one that does not match becomes a new version.
    expect((await importVersion({ ciphertext: wrapForImport(wrappingKey, pkcs8Of(second.privateKey)) })).status).toBe(204);
    expect((await data("GET", "source/keys/later")).latest_version).toBe(2);
    expect((await data("POST", "source/sign/later", { input: b64(message) })).signature).toMatch(/^vault:v2:/);
    expect((await importVersion({ ciphertext: wrapForImport(wrappingKey, pkcs8Of(stranger.privateKey)) })).status).toBe(204);
    expect((await data("GET", "source/keys/later")).latest_version).toBe(3);

    await ok("source/keys/symmetric/import", { ciphertext: wrapForImport(wrappingKey, randomBytes(32)) });
    await refused(
      "POST",
      "source/keys/symmetric/import_version",
      { version: 1, ciphertext: wrapForImport(wrappingKey, randomBytes(32)) },
      "provided type does not support importing key versions",
    );
    await refused("POST", "source/keys/symmetric/import_version", {}, "provided type does not support public_key import");
  });

  it("restores a backup of a public-only key", async () => {
    const pair = generateKeyPairSync("ed25519");
    await ok("source/keys/backed-up/import", { type: "ed25519", public_key: pemOf(pair.publicKey), exportable: true, allow_plaintext_backup: true });
    const { backup } = await data("GET", "source/backup/backed-up");
    expect((await call("POST", "destination/restore/backed-up", { backup })).status).toBe(204);
    const signature = `vault:v1:${nodeSign(null, message, pair.privateKey).toString("base64")}`;
    expect((await data("POST", "destination/verify/backed-up", { input: b64(message), signature })).valid).toBe(true);
  });

  it("takes SHA-224 as the OAEP hash where the runtime supplies it, and refuses it elsewhere", async () => {
    const wrappingKey = await wrappingKeyOf("destination");
    const material = randomBytes(32);
    const sha224 = { hash_function: "SHA224", ciphertext: wrapForImport(wrappingKey, material, "sha224") };
    const notHere = "hash function SHA224 is not supported by this runtime; use SHA1, SHA256, SHA384 or SHA512";
    const outside = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await ok("source/keys/outside-224/import", { type: "rsa-2048", public_key: pemOf(outside.publicKey) });
    await data("POST", "source/keys/to-move-224", { exportable: true });
    await refused("POST", "destination/keys/sha224/import", sha224, notHere);
    await refused("GET", "source/byok-export/outside-224/to-move-224?hash=SHA224", undefined, notHere);

    installPlatformCrypto({ rsaOaep: nodeRsaOaep });
    await ok("destination/keys/sha224/import", sha224);
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", material, nonce);
    const sealed = Buffer.concat([nonce, cipher.update("sealed outside"), cipher.final(), cipher.getAuthTag()]);
    expect((await data("POST", "destination/decrypt/sha224", { ciphertext: `vault:v1:${sealed.toString("base64")}` })).plaintext).toBe(b64("sealed outside"));

    const wrapped = (await data("GET", "source/byok-export/outside-224/to-move-224/1?hash=sha224")).keys["1"];
    const raw = (await data("GET", "source/export/encryption-key/to-move-224/1")).keys["1"];
    expect(unwrapOutside(wrapped, outside.privateKey, "sha224").toString("base64")).toBe(raw);
    await refused("POST", "destination/keys/sha224-wrong/import", { ...sha224, hash_function: "SHA256" }, "crypto/rsa: decryption error");
  });
});
