/**
 * Transit's wire formats checked outside Strongbox: ciphertexts opened, convergent ciphertexts
 * rebuilt, HMACs recomputed, signatures verified and exported keys loaded with Node's crypto.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeBase64 } from "../../adapters/node/server/node-base64.js";
import { decodeBase64, encodeBase64 } from "../../src/builtin/transit/inputs.js";
import { installRuntimeBase64, toBase64 } from "../../src/sdk/encoding.js";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

const b64 = (bytes: string | Buffer) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => Buffer.from(text, "base64");
const payload = (versioned: string) => versioned.replace(/^vault:v\d+:/, "");

// With the Node server's codec (Buffer, lenient) and without it (the core's own): the same bytes and the same refusals.
describe.each([
  ["the core's codec", null],
  ["Node's Buffer", nodeBase64],
])("transit's base64 with %s", (_, codec) => {
  beforeAll(() => installRuntimeBase64(codec));
  afterAll(() => installRuntimeBase64(null));

  it("encodes and decodes as Node's Buffer does, and refuses what Go's StdEncoding refuses", () => {
    for (let length = 0; length < 70; length++) {
      const bytes = new Uint8Array(Array.from({ length }, (_, index) => (index * 97 + length * 31) % 256));
      const text = Buffer.from(bytes).toString("base64");
      expect(encodeBase64(bytes)).toBe(text);
      expect(decodeBase64(text)).toEqual(bytes);
    }
    // Every 12-bit group of digits, at every offset within a 3-byte group.
    const everyGroup = Uint8Array.from({ length: 3 * 4096 + 2 }, (_, index) => (index * 37 + (index >> 8) * 11) % 256);
    for (let from = 0; from < 3; from++) {
      const text = Buffer.from(everyGroup.subarray(from)).toString("base64");
      expect(encodeBase64(everyGroup.subarray(from))).toBe(text);
      expect(encodeBase64(everyGroup.subarray(from), "vault:v12:")).toBe(`vault:v12:${text}`);
      expect(encodeBase64(everyGroup.subarray(from), "vault:v1:")).toBe(`vault:v1:${text}`);
      expect(decodeBase64(text)).toEqual(everyGroup.subarray(from));
    }
    // Past the reused scratch array, both ways.
    const large = Uint8Array.from({ length: 100_000 }, (_, index) => (index * 131) % 251);
    const largeText = Buffer.from(large).toString("base64");
    expect(encodeBase64(large, "vault:v3:")).toBe(`vault:v3:${largeText}`);
    expect(decodeBase64(largeText)).toEqual(large);
    expect(decodeBase64(`${largeText.slice(0, 90_000)}-${largeText.slice(90_001)}`)).toBe("illegal base64 data at input byte 90000");
    expect(decodeBase64("YWJj ZA==")).toBe("illegal base64 data at input byte 4");
    expect(decodeBase64("YWJjZA")).toBe("illegal base64 data at input byte 6");
    expect(decodeBase64("YW-j")).toBe("illegal base64 data at input byte 2");
    // Whitespace atob would skip, where the length still divides by four.
    expect(decodeBase64("YWJj ZA=")).toBe("illegal base64 data at input byte 4");
    expect(decodeBase64("YW\nj")).toBe("illegal base64 data at input byte 2");
    expect(decodeBase64("    ")).toBe("illegal base64 data at input byte 0");
    expect(decodeBase64("YWJjZGVm\tAAA")).toBe("illegal base64 data at input byte 8");
    // Outside ASCII, in the padded last group, and padding where digits belong.
    expect(decodeBase64("YWJj€A==")).toBe("illegal base64 data at input byte 4");
    expect(decodeBase64("YWJjZ_==")).toBe("illegal base64 data at input byte 5");
    expect(decodeBase64("YW=j")).toBe("illegal base64 data at input byte 2");
    expect(decodeBase64("====")).toBe("illegal base64 data at input byte 0");
    // Text Buffer decodes to the full length though Go refuses it: the URL alphabet, padding inside.
    expect(decodeBase64("YW-_")).toBe("illegal base64 data at input byte 2");
    expect(decodeBase64("YQ==YQ==")).toBe("illegal base64 data at input byte 2");
    expect(decodeBase64("=YWJ")).toBe("illegal base64 data at input byte 0");
    expect(toBase64(everyGroup)).toBe(Buffer.from(everyGroup).toString("base64"));
  });
});

describe("transit cryptography", () => {
  let server: InProcessServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, `transit/${path}`, body, server.root);
  const data = async (path: string, body?: unknown) => {
    const answer = await call("POST", path, body);
    if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.data;
  };

  beforeAll(async () => {
    server = await unsealedServer();
    await server.call("POST", "sys/mounts/transit", { type: "transit" }, server.root);
  });

  it("lays out AEAD ciphertexts as nonce ‖ ciphertext ‖ tag, which an exported key opens outside Strongbox", async () => {
    const ciphers = { "aes128-gcm96": "aes-128-gcm", "aes256-gcm96": "aes-256-gcm", "chacha20-poly1305": "chacha20-poly1305" } as const;
    for (const [type, nodeCipher] of Object.entries(ciphers)) {
      await data(`keys/out-${type}`, { type, exportable: true });
      const plaintext = Buffer.from(`secret for ${type}`);
      const { ciphertext } = await data(`encrypt/out-${type}`, { plaintext: b64(plaintext) });
      expect(ciphertext).toMatch(/^vault:v1:/);
      const raw = unb64(payload(ciphertext));
      expect(raw.length).toBe(12 + plaintext.length + 16);
      const key = unb64((await call("GET", `export/encryption-key/out-${type}/1`)).body.data.keys["1"]);
      const decipher = createDecipheriv(nodeCipher, key, raw.subarray(0, 12), { authTagLength: 16 } as never) as ReturnType<typeof createDecipheriv> & {
        setAuthTag(tag: Buffer): void;
      };
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      expect(Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()])).toEqual(plaintext);
      expect((await data(`decrypt/out-${type}`, { ciphertext })).plaintext).toBe(b64(plaintext));
    }
  });

  it("refuses tampered ciphertexts and malformed ones with Vault's errors", async () => {
    await data("keys/tamper");
    const { ciphertext } = await data("encrypt/tamper", { plaintext: b64("do not touch") });
    const raw = unb64(payload(ciphertext));
    raw[20]! ^= 1;
    const cases: [string, string][] = [
      [`vault:v1:${b64(raw)}`, "cipher: message authentication failed"],
      [payload(ciphertext), "invalid ciphertext: no prefix"],
      ["vault:v1", "invalid ciphertext: wrong number of fields"],
      ["vault:vX:abcd", "invalid ciphertext: version number could not be decoded"],
      ["vault:v1:%%%", "invalid ciphertext: could not decode base64"],
      ["vault:v1:AAAA", "invalid ciphertext length"],
    ];
    for (const [text, error] of cases)
      expect(await call("POST", "decrypt/tamper", { ciphertext: text }), text).toMatchObject({ status: 400, body: { errors: [error] } });
    expect((await call("POST", "decrypt/tamper", {})).body.errors).toEqual(["missing ciphertext to decrypt"]);
    expect((await call("POST", "encrypt/tamper", { plaintext: "not base64!" })).body.errors).toEqual(["illegal base64 data at input byte 3"]);
    expect((await call("POST", "decrypt/nothing-here", { ciphertext })).body.errors).toEqual(["encryption key not found"]);
  });

  it("derives keys with HKDF-SHA256 from the context, and a wrong or missing context fails", async () => {
    await data("keys/derived", { derived: true, exportable: true });
    const context = b64("user-42");
    const { ciphertext } = await data("encrypt/derived", { plaintext: b64("per user"), context });
    const master = unb64((await call("GET", "export/encryption-key/derived/1")).body.data.keys["1"]);
    const derivedKey = Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), Buffer.from("user-42"), 32));
    const raw = unb64(payload(ciphertext));
    const decipher = createDecipheriv("aes-256-gcm", derivedKey, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    expect(Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString()).toBe("per user");
    expect((await call("POST", "decrypt/derived", { ciphertext, context: b64("user-43") })).body.errors).toEqual(["cipher: message authentication failed"]);
    expect((await call("POST", "decrypt/derived", { ciphertext })).body.errors[0]).toMatch(/^missing 'context' for key derivation/);
  });

  it("makes convergent ciphertexts exactly as Vault's convergent version 3 does", async () => {
    await data("keys/convergent", { derived: true, convergent_encryption: true, exportable: true });
    expect((await call("GET", "keys/convergent")).body.data).toMatchObject({ convergent_encryption: true, convergent_encryption_version: -1 });
    const context = Buffer.from("tenant-7");
    const plaintext = Buffer.from("same in, same out");
    const first = (await data("encrypt/convergent", { plaintext: b64(plaintext), context: b64(context) })).ciphertext;
    const second = (await data("encrypt/convergent", { plaintext: b64(plaintext), context: b64(context) })).ciphertext;
    expect(second).toBe(first);
    const master = unb64((await call("GET", "export/encryption-key/convergent/1")).body.data.keys["1"]);
    const derived = Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), context, 64));
    const nonce = createHmac("sha256", derived.subarray(32)).update(plaintext).digest().subarray(0, 12);
    const cipher = createCipheriv("aes-256-gcm", derived.subarray(0, 32), nonce);
    const sealed = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    expect(first).toBe(`vault:v1:${b64(sealed)}`);
    expect((await call("POST", "encrypt/convergent", { plaintext: b64(plaintext), context: b64(context), nonce: b64("123456789012") })).body.errors).toEqual([
      "nonce provided when not allowed",
    ]);
  });

  it("binds associated_data, and refuses it for RSA keys", async () => {
    await data("keys/aad");
    const { ciphertext } = await data("encrypt/aad", { plaintext: b64("bound"), associated_data: b64("header") });
    expect((await data("decrypt/aad", { ciphertext, associated_data: b64("header") })).plaintext).toBe(b64("bound"));
    expect((await call("POST", "decrypt/aad", { ciphertext, associated_data: b64("other") })).body.errors).toEqual(["cipher: message authentication failed"]);
    await data("keys/rsa-aad", { type: "rsa-2048" });
    expect((await call("POST", "encrypt/rsa-aad", { plaintext: b64("x"), associated_data: b64("h") })).body.errors).toEqual([
      "'associated_data' provided for non-AEAD cipher suite rsa-2048",
    ]);
    const rsa = await data("encrypt/rsa-aad", { plaintext: b64("oaep") });
    expect(unb64(payload(rsa.ciphertext))).toHaveLength(256);
    expect((await data("decrypt/rsa-aad", { ciphertext: rsa.ciphertext })).plaintext).toBe(b64("oaep"));
  });

  it("answers batches item by item, keeping order and references, with 400 when an item failed", async () => {
    await data("keys/batch");
    const encrypted = await data("encrypt/batch", { batch_input: [{ plaintext: b64("a"), reference: "first" }, { plaintext: b64("b") }] });
    expect(encrypted.batch_results).toHaveLength(2);
    expect(encrypted.batch_results[0]).toMatchObject({ key_version: 1, reference: "first" });
    const decrypted = await data("decrypt/batch", {
      batch_input: encrypted.batch_results.map((item: { ciphertext: string }) => ({ ciphertext: item.ciphertext })),
    });
    expect(decrypted.batch_results.map((item: { plaintext: string }) => item.plaintext)).toEqual([b64("a"), b64("b")]);
    const mixed = await call("POST", "decrypt/batch", {
      batch_input: [{ ciphertext: encrypted.batch_results[0].ciphertext }, { ciphertext: "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }],
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body.data.batch_results[0].plaintext).toBe(b64("a"));
    expect(mixed.body.data.batch_results[1].error).toBe("cipher: message authentication failed");
    expect((await call("POST", "encrypt/batch", { batch_input: [] })).body.errors).toEqual(["missing batch input to process"]);
    expect((await call("POST", "encrypt/batch", { batch_input: "nope" })).status).toBe(400);
    expect((await call("POST", "encrypt/batch", { batch_input: [{ plaintext: b64("a"), context: b64("c") }, { plaintext: b64("b") }] })).body.errors).toEqual([
      "context should be set either in all the request blocks or in none",
    ]);
  });

  it("rewraps to the latest version and issues data keys", async () => {
    await data("keys/wrap");
    const old = (await data("encrypt/wrap", { plaintext: b64("keep") })).ciphertext;
    await data("keys/wrap/rotate");
    const rewrapped = await data("rewrap/wrap", { ciphertext: old });
    expect(rewrapped).toMatchObject({ key_version: 2 });
    expect((await data("decrypt/wrap", { ciphertext: rewrapped.ciphertext })).plaintext).toBe(b64("keep"));

    const plain = await data("datakey/plaintext/wrap", { bits: 512 });
    expect(unb64(plain.plaintext)).toHaveLength(64);
    expect((await data("decrypt/wrap", { ciphertext: plain.ciphertext })).plaintext).toBe(plain.plaintext);
    const wrapped = await data("datakey/wrapped/wrap");
    expect(wrapped.plaintext).toBeUndefined();
    expect(unb64((await data("decrypt/wrap", { ciphertext: wrapped.ciphertext })).plaintext)).toHaveLength(32);
    expect((await call("POST", "datakey/plaintext/wrap", { bits: 100 })).body.errors).toEqual(["invalid bit length"]);
    expect((await call("POST", "datakey/other/wrap")).body.errors).toEqual(["Invalid path, must be 'plaintext' or 'wrapped'"]);
  });

  it("computes HMACs Node recomputes, and verifies them", async () => {
    await data("keys/mac", { type: "hmac", key_size: 64, exportable: true });
    const key = unb64((await call("GET", "export/hmac-key/mac/1")).body.data.keys["1"]);
    expect(key).toHaveLength(64);
    for (const [algorithm, node] of [
      ["sha2-256", "sha256"],
      ["sha2-512", "sha512"],
      ["sha3-256", "sha3-256"],
      ["sha2-224", "sha224"],
    ]) {
      const { hmac } = await data(`hmac/mac/${algorithm}`, { input: b64("message") });
      expect(hmac).toBe(`vault:v1:${createHmac(node!, key).update("message").digest("base64")}`);
      expect((await data(`verify/mac/${algorithm}`, { input: b64("message"), hmac })).valid).toBe(true);
      expect((await data(`verify/mac/${algorithm}`, { input: b64("massage"), hmac })).valid).toBe(false);
    }
    await data("keys/mac-aes");
    const batch = await data("hmac/mac-aes", { batch_input: [{ input: b64("x"), reference: "r" }, { input: "!" }] });
    expect(batch.batch_results[0]).toMatchObject({ reference: "r" });
    expect(batch.batch_results[1].error).toMatch(/^unable to decode input as base64/);
    expect((await call("POST", "verify/mac-aes", { input: b64("x"), hmac: "vault:v9:AAAA" })).body.errors).toEqual(["invalid HMAC: version is too new"]);
    expect((await call("POST", "verify/mac-aes", { input: b64("x"), hmac: "v1:AAAA" })).body.errors).toEqual(["invalid HMAC to verify: no prefix"]);
    expect((await call("POST", "hmac/mac-aes", { input: b64("x"), key_version: 3 })).body.errors).toEqual([
      "key version does not exist; latest key version is 1",
    ]);
    expect((await call("POST", "verify/mac-aes", { input: b64("x") })).body.errors).toEqual(["neither a 'signature' nor an 'hmac' were given to verify"]);
  });

  it("hashes with SHA-2 and SHA-3 and serves random bytes", async () => {
    const input = b64("abc");
    expect((await data("hash", { input })).sum).toBe(createHash("sha256").update("abc").digest("hex"));
    expect((await data("hash/sha3-512", { input, format: "base64" })).sum).toBe(createHash("sha3-512").update("abc").digest("base64"));
    expect((await data("hash", { input, algorithm: "sha2-224" })).sum).toBe(createHash("sha224").update("abc").digest("hex"));
    expect((await call("POST", "hash/md5", { input })).body.errors).toEqual(["unsupported algorithm md5"]);
    expect((await call("POST", "hash", {})).body.errors).toEqual(["input missing"]);
    expect(unb64((await data("random")).random_bytes)).toHaveLength(32);
    expect((await data("random/16", { format: "hex" })).random_bytes).toMatch(/^[0-9a-f]{32}$/);
    expect(unb64((await data("random/platform/8")).random_bytes)).toHaveLength(8);
    expect((await call("POST", "random/200000")).body.errors).toEqual(['the value of "bytes" cannot be more than 131072']);
    expect((await call("POST", "random", { format: "base32" })).status).toBe(400);
  });
});
