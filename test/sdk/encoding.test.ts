import { describe, expect, it } from "vitest";
import { encodeJson, ExactNumber, mayHoldInexactNumber, parseJson, SharedDecoding } from "../../src/sdk/encoding.js";

describe("mayHoldInexactNumber (the pre-check that picks JSON.parse or the exact parser)", () => {
  it("is true for numbers a double could change, wherever they sit", () => {
    for (const text of ['{"n":12345678901234567}', "[1e400]", '{"a":[{"b":-1.5E+300}]}', '{"f":0.10000000000000000555}', "1e-400"]) {
      expect(mayHoldInexactNumber(text), text).toBe(true);
    }
  });

  it("is false for digits and exponent-like text inside strings, escaped quotes included", () => {
    const hash = "b1e123ff4e99900012345678901234567890abcdef0123456789abcdef012345";
    for (const text of [
      `{"parent":"${hash}","expire_time":1796080462127}`,
      '{"uuid":"aca4bc7b-8f5e-4094-9eb8-2e24f1a462be","ok":true,"no":false}',
      '{"q":"say \\"e123\\" and 12345678901234567890","n":1e99}',
    ]) {
      expect(mayHoldInexactNumber(text), text).toBe(false);
    }
  });

  it("leaves what parseJson returns unchanged: exact numbers kept, strings untouched", () => {
    const parsed = parseJson('{"id":"e1234","big":12345678901234567890,"s":"12345678901234567890"}') as Record<string, unknown>;
    expect(parsed.id).toBe("e1234");
    expect(parsed.big).toEqual(new ExactNumber("12345678901234567890"));
    expect(parsed.s).toBe("12345678901234567890");
  });
});

describe("SharedDecoding", () => {
  it("decodes each bytes object once and freezes the result all the way down", () => {
    let decodes = 0;
    const decoding = new SharedDecoding((bytes) => {
      decodes++;
      return parseJson(new TextDecoder().decode(bytes)) as { list: string[]; nested: { n: number } };
    });
    const stored = encodeJson({ list: ["a"], nested: { n: 1 } });
    const value = decoding.decode(stored);
    expect(decoding.decode(stored)).toBe(value);
    expect(decodes).toBe(1);
    expect(() => value.list.push("b")).toThrow(TypeError);
    expect(() => (value.nested.n = 2)).toThrow(TypeError);
    // Other bytes (the entry was written again), even with the same content: decoded anew.
    expect(decoding.decode(stored.slice())).toEqual(value);
    expect(decodes).toBe(2);
  });
});
