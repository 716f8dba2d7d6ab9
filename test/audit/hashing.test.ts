/** The audit HMAC: synchronous HMAC-SHA256 (@noble/hashes) agreeing with Node's, and leaf hashing of whole entries. */
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AuditHasher } from "../../src/audit/hashing.js";
import { ExactNumber } from "../../src/sdk/encoding.js";

describe("AuditHasher.hash", () => {
  it("agrees with Node's HMAC-SHA256 for salts and values around every block boundary, the salt keyed in once", async () => {
    for (const saltLength of [1, 32, 63, 64, 65, 200]) {
      const salt = randomBytes(saltLength);
      const hasher = await AuditHasher.create(salt);
      for (let length = 0; length <= 150; length++) {
        const value = "v".repeat(length);
        expect(hasher.hash(value)).toBe(`hmac-sha256:${createHmac("sha256", salt).update(value).digest("hex")}`);
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
