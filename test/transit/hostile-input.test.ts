/** Every transit endpoint answers hostile fields with a 4xx in Vault's error shape, never a 500. */
import { beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

const GARBAGE: unknown[] = [
  null,
  0,
  -1,
  1.5,
  2 ** 60,
  true,
  "",
  "%%%",
  "vault:v1:",
  "vault:v-1:AAAA",
  "vault:v99999999999999999999:AAAA",
  [],
  [1, "a"],
  {},
  { a: { b: 1 } },
];
const FIELDS = [
  "plaintext",
  "ciphertext",
  "context",
  "key_version",
  "associated_data",
  "batch_input",
  "input",
  "signature",
  "hmac",
  "hash_algorithm",
  "marshaling_algorithm",
  "salt_length",
  "prehashed",
  "signature_algorithm",
  "bits",
  "type",
  "derived",
  "exportable",
  "min_decryption_version",
  "min_encryption_version",
  "min_available_version",
  "auto_rotate_period",
  "key_size",
  "backup",
  "format",
  "bytes",
  "size",
  "version",
  "csr",
  "certificate_chain",
];
const PATHS = [
  "keys/aes",
  "keys/aes/config",
  "keys/aes/trim",
  "encrypt/aes",
  "encrypt/fresh",
  "decrypt/aes",
  "rewrap/aes",
  "datakey/plaintext/aes",
  "sign/ec",
  "verify/ec",
  "sign/rsa",
  "verify/rsa",
  "sign/ed",
  "keys/ec/csr",
  "keys/ed/set-certificate",
  "hmac/aes",
  "verify/aes",
  "hash",
  "random",
  "restore",
  "cache-config",
];

describe("transit under hostile input", () => {
  let server: InProcessServer;
  beforeAll(async () => {
    server = await unsealedServer();
    await server.call("POST", "sys/mounts/transit", { type: "transit" }, server.root);
    for (const [name, type] of [
      ["aes", "aes256-gcm96"],
      ["ec", "ecdsa-p256"],
      ["rsa", "rsa-2048"],
      ["ed", "ed25519"],
    ]) {
      await server.call("POST", `transit/keys/${name}`, { type }, server.root);
    }
  });

  it("answers every garbage value in every field with a client error or success, never a 500", async () => {
    const failures: string[] = [];
    for (const path of PATHS) {
      for (const field of FIELDS) {
        for (const value of [...GARBAGE, [value0(field)]]) {
          const body = field === "batch_input" ? { batch_input: value } : { [field]: value, batch_input: [{ [field]: value }] };
          for (const sent of [body, { [field]: value }]) {
            const answer = await server.call("POST", `transit/${path}`, sent, server.root);
            if (answer.status >= 500 || (answer.status >= 400 && !Array.isArray(answer.body?.errors)))
              failures.push(`${path} ${JSON.stringify(sent)} → ${answer.status}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});

/** One more shape per field: an object nested where a scalar belongs. */
function value0(field: string): unknown {
  return { [field]: { nested: [field] } };
}
