/** Transit signatures verified with Node's crypto, and exported signing keys loaded by it. */
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, constants, type KeyObject, verify as nodeVerify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeRsaDigestSigning, nodeRsaSigning } from "../../adapters/node/server/node-rsa-digest.js";
import { installPlatformCrypto } from "../../src/sdk/platform-crypto.js";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

const b64 = (bytes: string | Buffer) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => Buffer.from(text, "base64");
const payload = (versioned: string) => versioned.replace(/^vault:v\d+:/, "");
const message = Buffer.from("the message to sign");

describe("transit signing", () => {
  let server: InProcessServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, `transit/${path}`, body, server.root);
  const data = async (path: string, body?: unknown) => {
    const answer = await call("POST", path, body);
    if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.data;
  };
  const publicKeyOf = async (name: string): Promise<KeyObject> => {
    const key = (await call("GET", `keys/${name}`)).body.data.keys["1"].public_key as string;
    return key.startsWith("-----")
      ? createPublicKey(key)
      : createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: unb64(key).toString("base64url") }, format: "jwk" });
  };

  beforeAll(async () => {
    server = await unsealedServer();
    await server.call("POST", "sys/mounts/transit", { type: "transit" }, server.root);
    for (const type of ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-2048"]) await data(`keys/${type}`, { type, exportable: true });
  });

  it("signs with ECDSA in ASN.1 and JWS form, over every hash, as Node verifies", async () => {
    for (const curve of ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"]) {
      const publicKey = await publicKeyOf(curve);
      for (const [hash, node] of [
        ["sha2-256", "sha256"],
        ["sha2-384", "sha384"],
        ["sha2-512", "sha512"],
        ["sha3-256", "sha3-256"],
        ["sha2-224", "sha224"],
      ]) {
        const der = (await data(`sign/${curve}/${hash}`, { input: b64(message) })).signature;
        expect(nodeVerify(node!, message, { key: publicKey, dsaEncoding: "der" }, unb64(payload(der))), `${curve} ${hash}`).toBe(true);
        const jws = (await data(`sign/${curve}`, { input: b64(message), hash_algorithm: hash, marshaling_algorithm: "jws" })).signature;
        expect(payload(jws)).not.toMatch(/[+/=]/);
        expect(nodeVerify(node!, message, { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(payload(jws), "base64url"))).toBe(true);
        expect((await data(`verify/${curve}/${hash}`, { input: b64(message), signature: der })).valid).toBe(true);
        expect((await data(`verify/${curve}/${hash}`, { input: b64(message), signature: jws, marshaling_algorithm: "jws" })).valid).toBe(true);
        expect((await data(`verify/${curve}/${hash}`, { input: b64("another message"), signature: der })).valid).toBe(false);
      }
    }
  });

  it("signs a digest the client hashed (prehashed) so that it verifies against the message", async () => {
    const digest = createHash("sha384").update(message).digest();
    const signature = (await data("sign/ecdsa-p384", { input: b64(digest), prehashed: true, hash_algorithm: "sha2-384" })).signature;
    expect(nodeVerify("sha384", message, { key: await publicKeyOf("ecdsa-p384"), dsaEncoding: "der" }, unb64(payload(signature)))).toBe(true);
    expect((await data("verify/ecdsa-p384/sha2-384", { input: b64(message), signature })).valid).toBe(true);
    expect((await data("verify/ecdsa-p384/sha2-384", { input: b64(digest), signature, prehashed: true })).valid).toBe(true);
  });

  it("signs with Ed25519, plain and derived from a context, as Node verifies", async () => {
    const signature = (await data("sign/ed25519", { input: b64(message) })).signature;
    expect(nodeVerify(null, message, await publicKeyOf("ed25519"), unb64(payload(signature)))).toBe(true);
    expect((await data("verify/ed25519", { input: b64(message), signature })).valid).toBe(true);

    await data("keys/ed25519-derived", { type: "ed25519", derived: true });
    const context = b64("device-9");
    const derived = await data("sign/ed25519-derived", { input: b64(message), context });
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: unb64(derived.public_key).toString("base64url") }, format: "jwk" });
    expect(nodeVerify(null, message, publicKey, unb64(payload(derived.signature)))).toBe(true);
    expect((await call("GET", `keys/ed25519-derived?context=${encodeURIComponent(context)}`)).body.data.keys["1"].public_key).toBe(derived.public_key);
    expect((await data("verify/ed25519-derived", { input: b64(message), signature: derived.signature, context })).valid).toBe(true);
    expect((await data("verify/ed25519-derived", { input: b64(message), signature: derived.signature, context: b64("device-8") })).valid).toBe(false);
  });

  it("signs with RSA PSS (salt auto, hash, or a length) and PKCS #1 v1.5, as Node verifies", async () => {
    const publicKey = await publicKeyOf("rsa-2048");
    const pss = (await data("sign/rsa-2048", { input: b64(message) })).signature;
    expect(nodeVerify("sha256", message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 256 - 2 - 32 }, unb64(payload(pss)))).toBe(
      true,
    );
    const hashSalt = (await data("sign/rsa-2048/sha2-512", { input: b64(message), salt_length: "hash" })).signature;
    expect(nodeVerify("sha512", message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, unb64(payload(hashSalt)))).toBe(true);
    expect((await data("verify/rsa-2048/sha2-512", { input: b64(message), signature: hashSalt })).valid).toBe(true);
    const fixedSalt = (await data("sign/rsa-2048", { input: b64(message), salt_length: 20 })).signature;
    expect((await data("verify/rsa-2048", { input: b64(message), signature: fixedSalt, salt_length: 20 })).valid).toBe(true);
    const pkcs1 = (await data("sign/rsa-2048", { input: b64(message), signature_algorithm: "pkcs1v15" })).signature;
    expect(nodeVerify("sha256", message, publicKey, unb64(payload(pkcs1)))).toBe(true);
    expect((await data("verify/rsa-2048", { input: b64(message), signature: pkcs1, signature_algorithm: "pkcs1v15" })).valid).toBe(true);
    expect((await call("POST", "sign/rsa-2048", { input: b64(message), salt_length: 300 })).body.errors).toEqual(["requested salt length 300 is invalid"]);
    expect((await call("POST", "sign/rsa-2048", { input: b64(message), salt_length: "lots" })).body.errors).toEqual([
      "salt length neither 'auto', 'hash', nor an int: lots",
    ]);
  });

  it("signs with RSA over SHA-224 and SHA-3 where the runtime has the hash, as OpenSSL verifies", async () => {
    const sha3 = { input: b64(message), hash_algorithm: "sha3-256" };
    expect(await call("POST", "sign/rsa-2048", sha3)).toMatchObject({
      status: 400,
      body: { errors: ["hash algorithm sha3-256 is not supported for RSA keys"] },
    });
    installPlatformCrypto({ rsaSigning: nodeRsaSigning });
    const dir = mkdtempSync(join(tmpdir(), "strongbox-rsa-hashes-"));
    try {
      writeFileSync(join(dir, "key.pem"), (await publicKeyOf("rsa-2048")).export({ type: "spki", format: "pem" }));
      writeFileSync(join(dir, "message"), message);
      const opensslVerifies = (hash: string, signature: string, padding: string[]) => {
        writeFileSync(join(dir, "signature"), unb64(payload(signature)));
        const args = ["dgst", `-${hash}`, ...padding, "-verify", "key.pem", "-signature", "signature", "message"];
        return execFileSync("openssl", args, { cwd: dir, encoding: "utf8" }).trim();
      };
      for (const [hash, openssl] of [
        ["sha2-224", "sha224"],
        ["sha3-256", "sha3-256"],
        ["sha3-512", "sha3-512"],
      ] as const) {
        const pss = (await data(`sign/rsa-2048/${hash}`, { input: b64(message) })).signature as string;
        // Salt "auto" when signing is the longest the key allows, as Go's PSSSaltLengthAuto.
        expect(opensslVerifies(openssl, pss, ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:max"]), hash).toBe("Verified OK");
        expect((await data(`verify/rsa-2048/${hash}`, { input: b64(message), signature: pss })).valid).toBe(true);
        expect((await data(`verify/rsa-2048/${hash}`, { input: b64("another message"), signature: pss })).valid).toBe(false);
        const hashSalt = (await data(`sign/rsa-2048/${hash}`, { input: b64(message), salt_length: "hash" })).signature as string;
        expect(opensslVerifies(openssl, hashSalt, ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"])).toBe("Verified OK");
        expect((await data(`verify/rsa-2048/${hash}`, { input: b64(message), signature: hashSalt })).valid).toBe(true);
        const pkcs1 = (await data(`sign/rsa-2048/${hash}`, { input: b64(message), signature_algorithm: "pkcs1v15" })).signature as string;
        expect(opensslVerifies(openssl, pkcs1, [])).toBe("Verified OK");
        expect((await data(`verify/rsa-2048/${hash}`, { input: b64(message), signature: pkcs1, signature_algorithm: "pkcs1v15" })).valid).toBe(true);
        // A PKCS #1 v1.5 signature is not a PSS one.
        expect((await data(`verify/rsa-2048/${hash}`, { input: b64(message), signature: pkcs1 })).valid).toBe(false);
      }
      expect(await call("POST", "sign/rsa-2048/sha3-256", { input: b64(message), signature_algorithm: "pss2" })).toMatchObject({
        status: 400,
        body: { errors: ["unsupported rsa signature algorithm pss2"] },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      installPlatformCrypto({});
    }
  });

  it("signs a digest the client hashed with RSA PKCS #1 v1.5 where the runtime has raw RSA, as OpenSSL verifies against the message", async () => {
    const digest = createHash("sha256").update(message).digest();
    const prehashed = { input: b64(digest), prehashed: true, signature_algorithm: "pkcs1v15" };
    expect((await call("POST", "sign/rsa-2048", prehashed)).body.errors).toEqual(["prehashed input is not supported for RSA keys by this runtime"]);
    installPlatformCrypto({ rsaDigest: nodeRsaDigestSigning });
    try {
      const signature = (await data("sign/rsa-2048", prehashed)).signature as string;
      // PKCS #1 v1.5 is deterministic: the same bytes as signing the message itself.
      expect(signature).toBe((await data("sign/rsa-2048", { input: b64(message), signature_algorithm: "pkcs1v15" })).signature);
      const dir = mkdtempSync(join(tmpdir(), "strongbox-rsa-digest-"));
      try {
        writeFileSync(join(dir, "key.pem"), (await publicKeyOf("rsa-2048")).export({ type: "spki", format: "pem" }));
        writeFileSync(join(dir, "message"), message);
        writeFileSync(join(dir, "signature"), unb64(payload(signature)));
        const verified = execFileSync("openssl", ["dgst", "-sha256", "-verify", "key.pem", "-signature", "signature", "message"], {
          cwd: dir,
          encoding: "utf8",
        });
        expect(verified.trim()).toBe("Verified OK");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect((await data("verify/rsa-2048", { ...prehashed, signature })).valid).toBe(true);
      const tampered = `vault:v1:${b64(Buffer.from(unb64(payload(signature)).map((byte, index) => (index === 9 ? byte ^ 1 : byte))))}`;
      expect((await data("verify/rsa-2048", { ...prehashed, signature: tampered })).valid).toBe(false);
      // hash_algorithm=none signs the input as given: here the DigestInfo the sha2-256 signature covered.
      const digestInfo = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), digest]);
      expect((await data("sign/rsa-2048", { ...prehashed, input: b64(digestInfo), hash_algorithm: "none" })).signature).toBe(signature);
      const refusals: [Record<string, unknown>, string][] = [
        [{ ...prehashed, signature_algorithm: "pss" }, "prehashed input is supported for RSA keys only with signature_algorithm=pkcs1v15"],
        [{ ...prehashed, input: b64(digest.subarray(1)) }, "crypto/rsa: input must be hashed message"],
        [{ ...prehashed, hash_algorithm: "sha3-256" }, "hash algorithm sha3-256 is not supported for RSA keys"],
        [{ ...prehashed, input: b64(Buffer.alloc(250, 7)), hash_algorithm: "none" }, "crypto/rsa: message too long for RSA key size"],
      ];
      for (const [body, error] of refusals) expect(await call("POST", "sign/rsa-2048", body)).toMatchObject({ status: 400, body: { errors: [error] } });
    } finally {
      installPlatformCrypto({});
    }
  });

  it("refuses what it cannot sign with Vault's errors", async () => {
    await data("keys/not-signing");
    const cases: [string, Record<string, unknown>, string][] = [
      ["sign/not-signing", { input: b64("x") }, "key type aes256-gcm96 does not support signing"],
      ["sign/missing-key", { input: b64("x") }, "signing key not found"],
      ["sign/ecdsa-p256/sha9", { input: b64("x") }, 'invalid hash algorithm "sha9"'],
      ["sign/ecdsa-p256", { input: b64("x"), marshaling_algorithm: "xml" }, 'invalid marshaling type "xml"'],
      ["sign/ecdsa-p256", { input: b64("x"), hash_algorithm: "none" }, "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15"],
      ["sign/ecdsa-p256", { input: b64("x"), key_version: 2 }, "requested version for signing is higher than the latest key version"],
      ["verify/ecdsa-p256", { input: b64("x"), signature: "vault:v1:bm90IGRlcg==" }, "supplied signature is invalid"],
      ["verify/ecdsa-p256", { input: b64("x"), signature: "vault:v5:AAAA" }, "invalid signature: version is too new"],
      ["verify/ecdsa-p256", { input: b64("x"), signature: "v1:AAAA" }, "invalid signature: no prefix"],
      ["verify/ecdsa-p256", { input: b64("x"), signature: "vault:v1:AAAA", hmac: "vault:v1:AAAA" }, "provide one of 'signature' or 'hmac'"],
    ];
    for (const [path, body, error] of cases) expect(await call("POST", path, body), path).toMatchObject({ status: 400, body: { errors: [error] } });
  });

  it("signs and verifies batches with references", async () => {
    const signed = await data("sign/ecdsa-p256", { batch_input: [{ input: b64("one"), reference: "a" }, { input: b64("two") }] });
    expect(signed.batch_results.map((item: { reference: string }) => item.reference)).toEqual(["a", ""]);
    const verified = await data("verify/ecdsa-p256", {
      batch_input: [
        { input: b64("one"), signature: signed.batch_results[0].signature },
        { input: b64("one"), signature: signed.batch_results[1].signature },
      ],
    });
    expect(verified.batch_results.map((item: { valid: boolean }) => item.valid)).toEqual([true, false]);
  });

  it("exports signing keys in Vault's formats, which Node loads as the same key", async () => {
    const exported = async (name: string, format = "") =>
      (await call("GET", `export/signing-key/${name}/1${format ? `?format=${format}` : ""}`)).body.data.keys["1"] as string;
    const ec = await exported("ecdsa-p256");
    expect(ec).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
    const samePublic = (privateKey: KeyObject, publicKey: KeyObject) =>
      expect(createPublicKey(privateKey).export({ format: "der", type: "spki" })).toEqual(publicKey.export({ format: "der", type: "spki" }));
    samePublic(createPrivateKey(ec), await publicKeyOf("ecdsa-p256"));
    samePublic(createPrivateKey(await exported("ecdsa-p521", "pem")), await publicKeyOf("ecdsa-p521"));
    const rsa = await exported("rsa-2048");
    expect(rsa).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    samePublic(createPrivateKey(rsa), await publicKeyOf("rsa-2048"));
    const ed = unb64(await exported("ed25519"));
    expect(ed).toHaveLength(64);
    samePublic(createPrivateKey({ key: unb64(await exported("ed25519", "der")), format: "der", type: "pkcs8" }), await publicKeyOf("ed25519"));
    expect((await call("GET", "export/public-key/ecdsa-p384/1")).body.data.keys["1"]).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });
});
