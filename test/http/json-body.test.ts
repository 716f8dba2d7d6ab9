import { describe, expect, it } from "vitest";
import { jsonBody } from "../../src/http/json-body.js";
import { ExactNumber, stringifyJson } from "../../src/sdk/encoding.js";

const text = (body: string | Uint8Array) => (typeof body === "string" ? body : new TextDecoder().decode(body));

describe("response bodies serialised piece by piece", () => {
  it("give JSON.stringify's text for long arrays in data, whatever they hold", () => {
    const odd = [undefined, () => 1, Symbol("s"), null, 0, -0, Number.NaN, "", "ü€😀", { a: undefined, b: [1, { c: 2 }] }, new Date(0), [undefined]];
    const body = {
      request_id: "r",
      lease_id: "",
      skipped: undefined,
      data: {
        keys: Array.from({ length: 40 }, (_, index) => odd[index % odd.length]),
        short: [1, 2, 3],
        nested: { deep: Array.from({ length: 20 }, (_, index) => index) },
        gone: undefined,
        'quo"te': "\u2028\ud800",
      },
      warnings: null,
    };
    const expected = JSON.stringify(body);
    expect(text(jsonBody(body))).toBe(expected);
    expect(jsonBody(body)).toBeTypeOf("string");
  });

  it("keep exact numbers as written", () => {
    const body = { data: { batch_results: Array.from({ length: 20 }, () => ({ value: new ExactNumber("12345678901234567890") })) } };
    expect(text(jsonBody(body))).toBe(stringifyJson(body));
    expect(text(jsonBody(body))).toContain('{"value":12345678901234567890}');
  });

  it("send a large text as its UTF-8 bytes, multi-byte characters included", () => {
    const item = (index: number) => ({ ciphertext: `vault:v1:${"A".repeat(1400)}`, reference: index % 7 === 0 ? "réf-😀-€" : "" });
    const body = { request_id: "r", data: { batch_results: Array.from({ length: 100 }, (_, index) => item(index)) }, auth: null };
    const bytes = jsonBody(body);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(bytes as Uint8Array).equals(Buffer.from(JSON.stringify(body)))).toBe(true);
  });

  it("give JSON.stringify's text whatever the elements' sizes, which set how many go in one run", () => {
    const sizes = [10, 60_000, 3, 200_000, 1, 1, 5_000, 0];
    const keys = Array.from({ length: 300 }, (_, index) => ({ id: index, pad: "x".repeat(sizes[index % sizes.length]!) }));
    const body = { data: { keys: [...keys, ...Array.from({ length: 3000 }, (_, index) => index)] } };
    expect(text(jsonBody(body))).toBe(JSON.stringify(body));
  });

  it("serialise other bodies whole, as before", () => {
    for (const body of [{ errors: ["x"] }, { data: { keys: ["a", "b"] } }, { data: null }, [1, 2], "text", null]) {
      expect(jsonBody(body)).toBe(JSON.stringify(body));
    }
  });
});
