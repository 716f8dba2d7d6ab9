/**
 * The Node adapter's synchronous AES-GCM (src/sdk/platform-crypto.ts) gives WebCrypto's bytes exactly, so
 * ciphertexts made either way open either way, and refuses what WebCrypto refuses.
 */
import { afterEach, describe, expect, it } from "vitest";
import { nodeAesGcm } from "../../adapters/node/server/node-aes-gcm.js";
import { installPlatformCrypto } from "../../src/sdk/platform-crypto.js";
import { unsealedServer } from "../helpers/in-process-server.js";

const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, index) => (index * 31 + seed) % 256);

async function webCryptoSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey("raw", key as BufferSource, "AES-GCM", false, ["encrypt"]);
  const params = { name: "AES-GCM", iv: nonce as BufferSource, ...(associatedData ? { additionalData: associatedData as BufferSource } : {}) };
  return new Uint8Array(await crypto.subtle.encrypt(params, imported, plaintext as BufferSource));
}

describe("node:crypto AES-GCM", () => {
  afterEach(() => installPlatformCrypto({}));

  it("seals as WebCrypto does and opens WebCrypto's ciphertexts, 128- and 256-bit, with and without associated data", async () => {
    for (const keyBytes of [16, 32]) {
      for (const length of [0, 1, 15, 16, 17, 1024, 5000]) {
        for (const associatedData of [undefined, bytes(20, 7)]) {
          const key = bytes(keyBytes, length);
          const nonce = bytes(12, keyBytes + length);
          const plaintext = bytes(length, 3);
          const expected = await webCryptoSeal(key, nonce, plaintext, associatedData);
          expect(nodeAesGcm.seal(key, nonce, plaintext, associatedData)).toEqual(expected);
          expect(nodeAesGcm.open(key, nonce, expected, associatedData)).toEqual(plaintext);
        }
      }
    }
  });

  it("refuses a tampered byte, other associated data, another key and a ciphertext shorter than its tag", () => {
    const key = bytes(32, 1);
    const nonce = bytes(12, 2);
    const sealed = nodeAesGcm.seal(key, nonce, bytes(100, 3), bytes(5, 4));
    const tampered = sealed.slice();
    tampered[10]! ^= 1;
    expect(nodeAesGcm.open(key, nonce, tampered, bytes(5, 4))).toBeNull();
    expect(nodeAesGcm.open(key, nonce, sealed, bytes(5, 5))).toBeNull();
    expect(nodeAesGcm.open(key, nonce, sealed)).toBeNull();
    expect(nodeAesGcm.open(bytes(32, 9), nonce, sealed, bytes(5, 4))).toBeNull();
    expect(nodeAesGcm.open(key, nonce, sealed.subarray(0, 15), bytes(5, 4))).toBeNull();
  });

  it("transit's ciphertexts made with it open with WebCrypto and the other way round, and failures read as before", async () => {
    const h = await unsealedServer();
    const call = (path: string, body: unknown) => h.call("POST", `transit/${path}`, body, h.root);
    expect((await h.call("POST", "sys/mounts/transit", { type: "transit" }, h.root)).status).toBe(204);
    for (const type of ["aes128-gcm96", "aes256-gcm96"]) {
      expect((await call(`keys/${type}`, { type })).status).toBe(200);
      const plaintext = Buffer.from(bytes(1024, 5)).toString("base64");
      const associated = Buffer.from("aad").toString("base64");
      const batch = { batch_input: [{ plaintext }, { plaintext, associated_data: associated }] };
      installPlatformCrypto({ aesGcm: nodeAesGcm });
      const byNode = (await call(`encrypt/${type}`, batch)).body.data.batch_results;
      installPlatformCrypto({});
      const byWebCrypto = (await call(`encrypt/${type}`, batch)).body.data.batch_results;
      for (const [sealedWith, opener] of [
        [byNode, undefined],
        [byWebCrypto, nodeAesGcm],
      ] as const) {
        installPlatformCrypto({ aesGcm: opener });
        const opened = await call(`decrypt/${type}`, {
          batch_input: [{ ciphertext: sealedWith[0].ciphertext }, { ciphertext: sealedWith[1].ciphertext, associated_data: associated }],
        });
        expect(opened.body.data.batch_results.map((result: { plaintext: string }) => result.plaintext)).toEqual([plaintext, plaintext]);
        const refused = await call(`decrypt/${type}`, { ciphertext: sealedWith[1].ciphertext });
        expect(refused).toEqual({ status: 400, body: { errors: ["cipher: message authentication failed"] } });
      }
    }
  });
});
