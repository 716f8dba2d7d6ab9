import { describe, expect, it } from "vitest";
import { PIECE_BYTES, parseJsonInPieces } from "../../src/http/json-pieces.js";
import { parseRequestBody } from "../../src/http/request-body.js";

const encode = (text: string) => new TextEncoder().encode(text);

/** A deterministic pseudo-random source, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** Strings that end next to quotes and backslashes, in several scripts. */
const AWKWARD = ["", 'quote"', "back\\", 'both\\"', "\\\\", "ü€😀", "\u2028", "x".repeat(3000), '"{[,:]}"'];

function generate(next: () => number, depth: number): unknown {
  const choice = next();
  if (depth <= 0 || choice < 0.3) {
    const leaf = Math.floor(next() * 6);
    if (leaf === 0) return AWKWARD[Math.floor(next() * AWKWARD.length)];
    if (leaf === 1) return Math.floor(next() * 1e6) / 100;
    if (leaf === 2) return next() < 0.5;
    if (leaf === 3) return null;
    return "v".repeat(Math.floor(next() * 4000));
  }
  const size = Math.floor(next() * 14);
  if (choice < 0.65) return Array.from({ length: size }, () => generate(next, depth - 1));
  const object: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) object[`${AWKWARD[i % AWKWARD.length]}${i}`] = generate(next, depth - 1);
  return object;
}

describe("parsing a large body in pieces", () => {
  it("gives JSON.parse's value for large documents of every shape, however they are spaced", () => {
    let large = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const next = random(seed);
      const document = { batch_input: generate(next, 3), other: generate(next, 2) };
      const text = seed % 3 === 0 ? JSON.stringify(document, null, seed % 2 === 0 ? 2 : "\t") : JSON.stringify(document);
      if (text.length > PIECE_BYTES) large++;
      expect(parseJsonInPieces(encode(text)), `seed ${seed}`).toEqual({ value: JSON.parse(text) });
    }
    expect(large).toBeGreaterThan(20);
  });

  it("keeps JSON.parse's handling of duplicate keys and of __proto__", () => {
    const big = "p".repeat(PIECE_BYTES);
    const text = `{"a":1,"__proto__":{"polluted":true},"b":"${big}","a":2,"c":[${Array.from({ length: 30 }, () => `"${"q".repeat(3000)}"`).join(",")}],"a":3}`;
    const parsed = parseJsonInPieces(encode(text))!.value as Record<string, unknown>;
    const expected = JSON.parse(text);
    expect(Object.keys(parsed)).toEqual(Object.keys(expected));
    expect(parsed).toEqual(expected);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("declines what is not JSON, leaving the error to the whole parse", () => {
    const items = Array.from({ length: 40 }, () => `{"plaintext":"${"A".repeat(2000)}"}`);
    const valid = `{"batch_input":[${items.join(",")}]}`;
    expect(parseJsonInPieces(encode(valid))).not.toBeNull();
    for (const broken of [
      valid.replace("]}", ",]}"),
      valid.replace('{"plaintext"', '{"plaintext" 1'),
      valid.slice(0, -1),
      `${valid}}`,
      valid.replace(`"${"A".repeat(2000)}"}`, `"${"A".repeat(2000)}}`),
      valid.replace('"batch_input":', '"batch_input"'),
      valid.replace('"batch_input"', "batch_input"),
      `[${valid}:1]`,
    ]) {
      expect(parseJsonInPieces(encode(broken))).toBeNull();
    }
  });

  it("parseRequestBody's scan follows strings across its 256 KiB slices: commas in a string are no values", async () => {
    const slice = 256 * 1024;
    for (const backslashes of [1, 2]) {
      // The string's backslashes end the first slice; an odd run escapes the quote that starts the second.
      const head = `{"a":"${"x".repeat(slice - 6 - backslashes)}${"\\".repeat(backslashes)}`;
      expect(head.length).toBe(slice);
      const text = backslashes === 1 ? `${head}"${",".repeat(150_000)}"}` : `${head}","b":"${",".repeat(150_000)}"}`;
      expect(await parseRequestBody(encode(text))).toEqual(JSON.parse(text));
    }
  });

  it("parseRequestBody answers large bodies as before: values, errors and whitespace", async () => {
    const items = Array.from({ length: 100 }, (_, index) => ({ plaintext: "A".repeat(1400), reference: `r-${index}-ü` }));
    expect(await parseRequestBody(encode(JSON.stringify({ batch_input: items })))).toEqual({ batch_input: items });
    const padded = ` \n${JSON.stringify({ batch_input: items })}\t `;
    expect(await parseRequestBody(encode(padded))).toEqual({ batch_input: items });
    expect(await parseRequestBody(encode(" ".repeat(PIECE_BYTES * 2)))).toEqual({});
    await expect(parseRequestBody(encode(`[${JSON.stringify(items)}]`))).rejects.toMatchObject({
      status: 400,
      message: "failed to parse JSON input: the body must be a JSON object",
    });
    const broken = JSON.stringify({ batch_input: items }).replace("]}", ",]}");
    let expected = "";
    try {
      JSON.parse(broken);
    } catch (error) {
      expected = `failed to parse JSON input: ${(error as Error).message}`;
    }
    await expect(parseRequestBody(encode(broken))).rejects.toMatchObject({ status: 400, message: expected });
  });
});
