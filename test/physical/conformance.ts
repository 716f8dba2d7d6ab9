/**
 * The behaviour every Backend promises (see src/physical/backend.ts), as one suite to run against
 * each implementation. Lists are checked against a model (`childrenOf` over the keys written).
 */
import { describe, expect, it } from "vitest";
import { type Backend, BackendInputError, childrenOf } from "../../src/physical/backend.js";

export interface ConformanceTarget {
  /** A fresh, empty backend (its own table, prefix or directory). */
  create(): Promise<Backend>;
  /**
   * The largest value accepted under `key`, when the backend has a limit: one byte more must be
   * refused with BackendInputError. Without a limit, `largeValueBytes` must round-trip.
   */
  valueLimit?: { key: string; maxBytes: number };
  largeValueBytes?: number;
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** Deterministic filler; built with a loop because large `Uint8Array.from` callbacks are slow. */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/** Byte equality without a deep-equal walk over megabytes. */
function expectSameBytes(actual: Uint8Array | null, expected: Uint8Array): void {
  expect(actual).not.toBeNull();
  expect(actual!.length).toBe(expected.length);
  expect(Buffer.compare(actual!, expected)).toBe(0);
}

/** Keys with characters that trip up URL encoding, path handling and sorting. */
export const oddKeys = [
  "with space/a b",
  "unicode/ключ/値 🔑",
  "percent/100%",
  "percent/%2F%20",
  "plus/a+b",
  "dots/../up",
  "dots/./here",
  "dots/..",
  "dots/...",
  "query/?a=1&b=#frag",
  "back\\slash/x",
  "quote/'\"<>",
  "double//slash",
  "tilde/~x",
  "under/_x",
  "colon/a:b;c,d",
];

export function describeConformance(name: string, target: ConformanceTarget): void {
  describe(`${name} conformance`, () => {
    it("returns null for missing keys and deletes missing keys quietly", async () => {
      const backend = await target.create();
      expect(await backend.get("missing")).toBeNull();
      expect(await backend.get("missing/deeper")).toBeNull();
      await backend.delete("missing");
      await backend.delete("missing/deeper");
      expect(await backend.list("")).toEqual([]);
      expect(await backend.list("missing/")).toEqual([]);
    });

    it("stores, overwrites and deletes values byte for byte", async () => {
      const backend = await target.create();
      const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await backend.put("k", allBytes);
      expect(await backend.get("k")).toEqual(allBytes);
      await backend.put("k", bytes("second"));
      expect(await backend.get("k")).toEqual(bytes("second"));
      await backend.put("empty", new Uint8Array());
      expect(await backend.get("empty")).toEqual(new Uint8Array());
      await backend.delete("k");
      expect(await backend.get("k")).toBeNull();
      expect(await backend.list("")).toEqual(["empty"]);
    });

    it("does not let callers alias stored bytes", async () => {
      const backend = await target.create();
      const value = bytes("abc");
      await backend.put("alias", value);
      value[0] = 0;
      const read = await backend.get("alias");
      expect(read).toEqual(bytes("abc"));
      read![1] = 0;
      expect(await backend.get("alias")).toEqual(bytes("abc"));
    });

    it("lists immediate children of nested prefixes, Vault-style", async () => {
      const backend = await target.create();
      for (const key of ["a", "a/b", "a/c/d", "a/c/e", "b/x/y/z"]) await backend.put(key, bytes(key));
      expect(await backend.list("")).toEqual(["a", "a/", "b/"]);
      expect(await backend.list("a/")).toEqual(["b", "c/"]);
      expect(await backend.list("a/c/")).toEqual(["d", "e"]);
      expect(await backend.list("b/")).toEqual(["x/"]);
      expect(await backend.list("b/x/y/")).toEqual(["z"]);
      expect(await backend.list("a/b/")).toEqual([]);
      expect(await backend.list("nope/")).toEqual([]);
      expect(await backend.get("a")).toEqual(bytes("a"));
      expect(await backend.get("a/c/d")).toEqual(bytes("a/c/d"));
    });

    it("drops folders from lists once their last key is deleted", async () => {
      const backend = await target.create();
      for (const key of ["a/b", "a/c/d", "a/c/e", "b/x/y/z"]) await backend.put(key, bytes(key));
      await backend.delete("a/c/d");
      expect(await backend.list("a/")).toEqual(["b", "c/"]);
      await backend.delete("a/c/e");
      expect(await backend.list("a/")).toEqual(["b"]);
      await backend.delete("b/x/y/z");
      expect(await backend.list("")).toEqual(["a/"]);
      expect(await backend.list("b/x/")).toEqual([]);
      await backend.put("b/x/again", bytes("again"));
      expect(await backend.list("")).toEqual(["a/", "b/"]);
      expect(await backend.list("b/x/")).toEqual(["again"]);
    });

    if (target.valueLimit) {
      const { key, maxBytes } = target.valueLimit;
      it(`accepts values up to its limit (${maxBytes} bytes under "${key}") and refuses larger ones clearly`, async () => {
        const backend = await target.create();
        const largest = pattern(maxBytes);
        await backend.put(key, largest);
        expectSameBytes(await backend.get(key), largest);
        const tooLarge = new Uint8Array(maxBytes + 1);
        const refusal = await backend.put(key, tooLarge).catch((error: unknown) => error);
        expect(refusal).toBeInstanceOf(BackendInputError);
        expect((refusal as Error).message).toMatch(/limit/i);
        expectSameBytes(await backend.get(key), largest);
      });
    } else {
      const size = target.largeValueBytes ?? 4 * 1024 * 1024;
      it(`round-trips large values (${size} bytes)`, async () => {
        const backend = await target.create();
        const large = pattern(size);
        await backend.put("big/blob", large);
        expectSameBytes(await backend.get("big/blob"), large);
      });
    }

    it("keeps keys with odd characters apart and lists them", async () => {
      const backend = await target.create();
      for (const key of oddKeys) await backend.put(key, bytes(key));
      for (const key of oddKeys) expect(await backend.get(key), key).toEqual(bytes(key));
      const prefixes = new Set([""]);
      for (const key of oddKeys) {
        for (let i = key.indexOf("/"); i !== -1; i = key.indexOf("/", i + 1)) prefixes.add(key.slice(0, i + 1));
      }
      for (const prefix of prefixes) {
        expect(await backend.list(prefix), prefix).toEqual(
          childrenOf(
            prefix,
            oddKeys.filter((k) => k.startsWith(prefix)),
          ),
        );
      }
      await backend.delete("dots/../up");
      expect(await backend.get("dots/../up")).toBeNull();
      expect(await backend.get("dots/..")).toEqual(bytes("dots/.."));
      expect(await backend.get("up")).toBeNull();
    });

    it("lists more than 1000 children, across pages", async () => {
      const backend = await target.create();
      // 1.5 KB each: 1100 of them also overflow DynamoDB's 1 MB query page.
      const value = new Uint8Array(1536).fill(7);
      const keys = Array.from({ length: 1100 }, (_, i) => `many/k${String(i).padStart(4, "0")}`);
      await inBatches(keys, 25, (key) => backend.put(key, value));
      await backend.put("many/sub/x", value);
      expect(await backend.list("many/")).toEqual([...keys.map((k) => k.slice(5)), "sub/"].sort());
      expect(await backend.list("")).toEqual(["many/"]);
    });

    it("handles concurrent writers to distinct keys and to the same key", async () => {
      const backend = await target.create();
      const distinct = Array.from({ length: 40 }, (_, i) => `c/d${i}`);
      const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
      await Promise.all([...distinct.map((key) => backend.put(key, bytes(key))), ...values.map((value) => backend.put("c/same", bytes(value)))]);
      for (const key of distinct) expect(await backend.get(key)).toEqual(bytes(key));
      const winner = new TextDecoder().decode((await backend.get("c/same"))!);
      expect(values).toContain(winner);
      expect(await backend.list("c/")).toEqual([...distinct.map((k) => k.slice(2)), "same"].sort());
    });

    it("keeps a folder listed when a put races the delete of its last other key", async () => {
      const backend = await target.create();
      const rounds = Array.from({ length: 12 }, (_, i) => `race/r${i}/`);
      await Promise.all(rounds.map((folder) => backend.put(`${folder}old`, bytes("old"))));
      await Promise.all(rounds.flatMap((folder) => [backend.delete(`${folder}old`), backend.put(`${folder}new`, bytes("new"))]));
      expect(await backend.list("race/")).toEqual(rounds.map((folder) => folder.slice(5)).sort());
      for (const folder of rounds) expect(await backend.list(folder)).toEqual(["new"]);
    });
  });
}

async function inBatches<T>(items: T[], size: number, task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(task));
}
