/** The audit HMAC: synchronous HMAC-SHA256 agreeing with Node's, and leaf hashing of whole entries. */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AuditHasher } from "../../src/audit/hashing.js";
import { HmacSha256, sha256 } from "../../src/audit/hmac-sha256.js";
import { ExactNumber } from "../../src/sdk/encoding.js";

describe("HmacSha256", () => {
  it("agrees with Node's crypto for keys and messages around every block boundary", () => {
    for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const hmac = new HmacSha256(key);
      for (let length = 0; length <= 200; length++) {
        const message = randomBytes(length);
        expect(Buffer.from(hmac.sign(message)).toString("hex")).toBe(createHmac("sha256", key).update(message).digest("hex"));
        expect(Buffer.from(sha256(message)).toString("hex")).toBe(createHash("sha256").update(message).digest("hex"));
      }
    }
  });
});

describe("AuditHasher.hashLeaves", () => {
  const salt = randomBytes(32);
  const hmac = (value: string) => `hmac-sha256:${createHmac("sha256", salt).update(value).digest("hex")}`;

  it("hashes every non-empty string leaf of a copy, keeping kept keys, numbers, empty strings and own __proto__ keys", async () => {
    const hasher = await AuditHasher.create(salt);
    const exact = new ExactNumber("12345678901234567890");
    const input = JSON.parse('{"a":"x","n":[1,"y",{"__proto__":"z","accessor":"keep","e":""}],"t":true}');
    input.big = exact;
    const hashed = (await hasher.hashLeaves(input, new Set(["accessor"]))) as any;
    expect(hashed).toEqual({ a: hmac("x"), n: [1, hmac("y"), JSON.parse(`{"__proto__":"${hmac("z")}","accessor":"keep","e":""}`)], t: true, big: exact });
    expect(Object.hasOwn(hashed.n[2], "__proto__")).toBe(true);
    expect(input.a).toBe("x"); // the input is left as it was
  });

  it("hashes an entry of many values in batches, leaving the event loop free between them", async () => {
    const hasher = await AuditHasher.create(salt);
    const values = Array.from({ length: 10_000 }, (_, i) => `v${i}`);
    let ticks = 0;
    const ticking = setInterval(() => ticks++, 0);
    const hashed = (await hasher.hashLeaves({ values })) as { values: string[] };
    clearInterval(ticking);
    expect(hashed.values[9_999]).toBe(hmac("v9999"));
    expect(ticks).toBeGreaterThan(0);
  });
});
