import { constants, createCipheriv, createDecipheriv, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes, verify } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

/** RFC 5649's alternative initial value: OpenSSL's `id-aes256-wrap-pad` wants it as the IV. */
const KWP_IV = Buffer.from("a65959a6", "hex");

/** What Vault's CLI sends: RSA-OAEP(ephemeral AES-256 key) ‖ AES-KWP(material), base64; wrapped here by OpenSSL. */
function wrapForImport(wrappingKeyPem: string, material: Buffer, oaepHash = "sha256"): string {
  const aesKey = randomBytes(32);
  const wrappedAesKey = publicEncrypt({ key: wrappingKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, aesKey);
  const kwp = createCipheriv("id-aes256-wrap-pad", aesKey, KWP_IV);
  return Buffer.concat([wrappedAesKey, kwp.update(material), kwp.final()]).toString("base64");
}

describe("transit BYOK import", () => {
  let server: InProcessServer;
  let wrappingKey: string;
  const call = (method: string, path: string, body?: unknown) => server.call(method, `transit/${path}`, body, server.root);

  beforeAll(async () => {
    server = await unsealedServer();
    expect((await server.call("POST", "sys/mounts/transit", { type: "transit" }, server.root)).status).toBe(204);
    const read = await call("GET", "wrapping_key");
    expect(read.status).toBe(200);
    wrappingKey = read.body.data.public_key;
  });

  it("hands out one RSA-4096 wrapping key per mount, the same on every read", async () => {
    expect(wrappingKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect((await call("GET", "wrapping_key")).body.data.public_key).toBe(wrappingKey);
    expect(createPublicKey(wrappingKey).asymmetricKeyDetails?.modulusLength).toBe(4096);
  });

  it("imports an AES key that then decrypts what the same key encrypted outside Strongbox", async () => {
    const material = randomBytes(32);
    const imported = await call("POST", "keys/byok-aes/import", { ciphertext: wrapForImport(wrappingKey, material) });
    expect(imported.status).toBe(204);
    const read = await call("GET", "keys/byok-aes");
    expect(read.body.data).toMatchObject({ type: "aes256-gcm96", latest_version: 1, imported_key: true, imported_key_allow_rotation: false });

    // Vault's layout, made with Node's AES-GCM under the material we imported.
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", material, nonce);
    const sealed = Buffer.concat([nonce, cipher.update("made outside"), cipher.final(), cipher.getAuthTag()]);
    const decrypted = await call("POST", "decrypt/byok-aes", { ciphertext: `vault:v1:${sealed.toString("base64")}` });
    expect(Buffer.from(decrypted.body.data.plaintext, "base64").toString()).toBe("made outside");

    // And the other way round.
    const encrypted = await call("POST", "encrypt/byok-aes", { plaintext: Buffer.from("made inside").toString("base64") });
    const raw = Buffer.from(encrypted.body.data.ciphertext.slice("vault:v1:".length), "base64");
    const decipher = createDecipheriv("aes-256-gcm", material, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    expect(Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString()).toBe("made inside");
  });

  it("imports EC, RSA and Ed25519 private keys whose signatures verify with the original public key", async () => {
    const cases = [
      { type: "ecdsa-p256", pair: generateKeyPairSync("ec", { namedCurve: "P-256" }), hash: "sha256" },
      { type: "ecdsa-p521", pair: generateKeyPairSync("ec", { namedCurve: "P-521" }), hash: "sha256" },
      { type: "rsa-2048", pair: generateKeyPairSync("rsa", { modulusLength: 2048 }), hash: "sha256" },
      { type: "ed25519", pair: generateKeyPairSync("ed25519"), hash: null },
    ];
    for (const { type, pair, hash } of cases) {
      const pkcs8 = pair.privateKey.export({ format: "der", type: "pkcs8" });
      const imported = await call("POST", `keys/byok-${type}/import`, {
        type,
        hash_function: "SHA512",
        ciphertext: wrapForImport(wrappingKey, pkcs8, "sha512"),
      });
      expect(imported.status, type).toBe(204);
      const input = Buffer.from(`signed by ${type}`);
      const signed = await call("POST", `sign/byok-${type}`, {
        input: input.toString("base64"),
        ...(type.startsWith("rsa") ? { signature_algorithm: "pkcs1v15" } : {}),
      });
      expect(signed.status, type).toBe(200);
      const signature = Buffer.from(signed.body.data.signature.split(":")[2], "base64");
      expect(verify(hash, input, pair.publicKey, signature), type).toBe(true);
    }
  });

  it("refuses what does not fit: wrong size, wrong curve, a bad wrapping, an existing key, convergent keys", async () => {
    const refused = async (path: string, body: Record<string, unknown>, error: RegExp) => {
      const response = await call("POST", path, body);
      expect(response.status, path).toBe(400);
      expect(response.body.errors[0]).toMatch(error);
    };
    await refused(
      "keys/wrong-size/import",
      { ciphertext: wrapForImport(wrappingKey, randomBytes(16)) },
      /^error importing key: invalid key size 16 bytes for key type aes256-gcm96$/,
    );
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "der", type: "pkcs8" });
    await refused(
      "keys/wrong-curve/import",
      { type: "ecdsa-p256", ciphertext: wrapForImport(wrappingKey, p384) },
      /^error importing key: invalid curve: expected P-256, got P-384$/,
    );
    const rsa3072 = generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey.export({ format: "der", type: "pkcs8" });
    await refused(
      "keys/wrong-bits/import",
      { type: "rsa-2048", ciphertext: wrapForImport(wrappingKey, rsa3072) },
      /^error importing key: invalid key size: expected 256 bytes, got 384 bytes$/,
    );
    await refused("keys/wrong-hash/import", { hash_function: "SHA384", ciphertext: wrapForImport(wrappingKey, randomBytes(32)) }, /decryption error/);
    await refused("keys/short/import", { ciphertext: randomBytes(64).toString("base64") }, /provided ciphertext is too short/);
    await refused("keys/not-base64/import", { ciphertext: "%%%" }, /illegal base64 data/);
    await refused("keys/unknown-hash/import", { hash_function: "MD5", ciphertext: wrapForImport(wrappingKey, randomBytes(32)) }, /unknown hash function: MD5/);
    // Without ciphertext, Vault reads a public key, which AES keys do not have.
    await refused("keys/missing/import", {}, /^provided type does not support public_key import$/);
    await refused(
      "keys/convergent/import",
      { convergent_encryption: true, derived: true, ciphertext: wrapForImport(wrappingKey, randomBytes(32)) },
      /convergent encryption/,
    );
    await refused("keys/auto/import", { auto_rotate_period: "24h", ciphertext: wrapForImport(wrappingKey, randomBytes(32)) }, /allow_rotation must be set/);

    // A tampered KWP block fails its integrity check instead of yielding other key material.
    const tampered = Buffer.from(wrapForImport(wrappingKey, randomBytes(32)), "base64");
    tampered[tampered.length - 1]! ^= 1;
    await refused("keys/tampered/import", { ciphertext: tampered.toString("base64") }, /failed to unwrap key/);

    expect((await call("POST", "keys/native", {})).status).toBe(200);
    await refused("keys/native/import", { ciphertext: wrapForImport(wrappingKey, randomBytes(32)) }, /cannot be used with an existing key/);
    await refused("keys/native/import_version", { ciphertext: wrapForImport(wrappingKey, randomBytes(32)) }, /can only be used with an imported key/);
    await refused("keys/absent/import_version", { ciphertext: wrapForImport(wrappingKey, randomBytes(32)) }, /no key found with name absent/);
    for (const name of ["wrong-size", "wrong-curve", "wrong-bits", "tampered", "convergent"]) expect((await call("GET", `keys/${name}`)).status).toBe(404);
  });

  it("adds versions with import_version, and rotates an imported key only when the import allowed it", async () => {
    const first = randomBytes(32);
    const second = randomBytes(32);
    expect((await call("POST", "keys/versions/import", { ciphertext: wrapForImport(wrappingKey, first) })).status).toBe(204);
    const before = await call("POST", "encrypt/versions", { plaintext: Buffer.from("v1").toString("base64") });
    expect((await call("POST", "keys/versions/import_version", { ciphertext: wrapForImport(wrappingKey, second) })).status).toBe(204);
    expect((await call("GET", "keys/versions")).body.data.latest_version).toBe(2);
    const after = await call("POST", "encrypt/versions", { plaintext: Buffer.from("v2").toString("base64") });
    expect(after.body.data.ciphertext).toMatch(/^vault:v2:/);
    expect((await call("POST", "decrypt/versions", { ciphertext: before.body.data.ciphertext })).body.data.plaintext).toBe(
      Buffer.from("v1").toString("base64"),
    );

    const rotate = await call("POST", "keys/versions/rotate");
    expect(rotate.status).toBe(400);
    expect(rotate.body.errors[0]).toBe("imported key versions does not allow rotation within Vault");

    expect((await call("POST", "keys/rotatable/import", { allow_rotation: true, ciphertext: wrapForImport(wrappingKey, first) })).status).toBe(204);
    expect((await call("POST", "keys/rotatable/rotate")).status).toBe(200);
    expect((await call("GET", "keys/rotatable")).body.data).toMatchObject({ latest_version: 2, imported_key: false });
  });
});
