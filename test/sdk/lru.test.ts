import { describe, expect, it } from "vitest";
import { LruCache } from "../../src/sdk/lru.js";

describe("LruCache", () => {
  it("never holds more than its capacity and drops the least recently used first", () => {
    const lru = new LruCache<string, number>(3);
    for (const [i, key] of ["a", "b", "c"].entries()) lru.set(key, i);
    expect(lru.get("a")).toBe(0); // a is the oldest: reading it moves it to the young end
    lru.set("d", 3);
    expect(lru.has("b")).toBe(false);
    expect([lru.get("a"), lru.get("c"), lru.get("d")]).toEqual([0, 2, 3]);
    for (let i = 0; i < 100; i++) lru.set(`k${i}`, i);
    expect(["a", "c", "d", "k97", "k98", "k99"].filter((key) => lru.has(key))).toEqual(["k97", "k98", "k99"]);
  });

  it("keeps an entry read between insertions, however many go by", () => {
    const lru = new LruCache<string, number>(8);
    lru.set("hot", 1);
    for (let i = 0; i < 1000; i++) {
      lru.set(`cold${i}`, i);
      expect(lru.get("hot")).toBe(1);
    }
  });
});
