import { describe, expect, it } from "vitest";
import type { Backend } from "../../src/physical/backend.js";
import { CachedBackend } from "../../src/physical/cache.js";
import { SizedLru } from "../../src/sdk/lru.js";
import { InmemBackend } from "../../src/physical/inmem.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | null) => (value === null ? null : new TextDecoder().decode(value));

/** An in-memory store that counts reads and can be told to fail writes or hold reads. */
class CountingBackend implements Backend {
  readonly inner = new InmemBackend();
  gets = 0;
  failWrites = false;
  /** While set, reads wait for it before answering what storage held when they started. */
  gate: Promise<void> | null = null;

  async get(key: string) {
    this.gets++;
    const value = await this.inner.get(key);
    if (this.gate) await this.gate;
    return value;
  }

  async put(key: string, value: Uint8Array) {
    if (this.failWrites) throw new Error("storage unavailable");
    await this.inner.put(key, value);
  }

  async delete(key: string) {
    if (this.failWrites) throw new Error("storage unavailable");
    await this.inner.delete(key);
  }

  lists = 0;

  async list(prefix: string) {
    this.lists++;
    const keys = await this.inner.list(prefix);
    if (this.gate) await this.gate;
    return keys;
  }
}

function cached(limits = { entries: 100, bytes: 1 << 20 }) {
  const storage = new CountingBackend();
  const cache = new CachedBackend(storage, limits);
  cache.begin();
  return { storage, cache };
}

describe("SizedLru", () => {
  it("drops the least recently used entry beyond its entry bound", () => {
    const lru = new SizedLru<string>({ entries: 2, bytes: 1000 });
    lru.set("a", "A", 1);
    lru.set("b", "B", 1);
    lru.get("a");
    lru.set("c", "C", 1);
    expect([lru.has("a"), lru.has("b"), lru.has("c")]).toEqual([true, false, true]);
  });

  it("keeps an entry read between every insertion, while entries never read go", () => {
    const lru = new SizedLru<string>({ entries: 4, bytes: 1000 });
    for (const key of ["hot", "a", "b", "c"]) lru.set(key, key, 1);
    for (let i = 0; i < 50; i++) {
      expect(lru.get("hot"), `after ${i} insertions`).toBe("hot");
      lru.set(`new-${i}`, "x", 1);
    }
    expect([lru.has("a"), lru.has("b"), lru.has("c"), lru.size]).toEqual([false, false, false, 4]);
  });

  it("drops entries until the byte bound holds, and never keeps one larger than it", () => {
    const lru = new SizedLru<string>({ entries: 100, bytes: 10 });
    lru.set("a", "A", 4);
    lru.set("b", "B", 4);
    lru.set("c", "C", 4);
    expect([lru.has("a"), lru.has("b"), lru.has("c"), lru.bytes]).toEqual([false, true, true, 8]);
    lru.set("huge", "H", 11);
    expect([lru.has("huge"), lru.size]).toEqual([false, 2]);
  });
});

describe("CachedBackend", () => {
  it("answers repeated reads, present or absent, from memory", async () => {
    const { storage, cache } = cached();
    await storage.inner.put("k", bytes("v"));
    expect(text(await cache.get("k"))).toBe("v");
    expect(text(await cache.get("k"))).toBe("v");
    expect(await cache.get("missing")).toBeNull();
    expect(await cache.get("missing")).toBeNull();
    expect(storage.gets).toBe(2);
  });

  it("keeps at most `entries` keys and at most `bytes` bytes", async () => {
    const byCount = cached({ entries: 2, bytes: 1 << 20 });
    for (const key of ["a", "b", "c", "a"]) await byCount.cache.get(key);
    expect(byCount.storage.gets).toBe(4); // "a" was evicted by "c"
    expect(byCount.cache.size).toBe(2);

    const bySize = cached({ entries: 100, bytes: 300 });
    await bySize.storage.inner.put("big1", new Uint8Array(200));
    await bySize.storage.inner.put("big2", new Uint8Array(200));
    await bySize.cache.get("big1");
    await bySize.cache.get("big2");
    await bySize.cache.get("big1");
    expect(bySize.storage.gets).toBe(3);
    expect(bySize.cache.size).toBe(1);
  });

  it("writes through: reads after a put or delete see it without asking storage", async () => {
    const { storage, cache } = cached();
    await cache.put("k", bytes("one"));
    expect(text(await storage.inner.get("k"))).toBe("one");
    expect(text(await cache.get("k"))).toBe("one");
    await cache.delete("k");
    expect(await storage.inner.get("k")).toBeNull();
    expect(await cache.get("k")).toBeNull();
    expect(storage.gets).toBe(0);
  });

  it("hands out copies, so a caller changing its bytes changes nothing cached", async () => {
    const { cache } = cached();
    const value = bytes("abc");
    await cache.put("k", value);
    value[0] = 0;
    (await cache.get("k"))![1] = 0;
    expect(text(await cache.get("k"))).toBe("abc");
  });

  it("shares one object per cached value through getShared, and a new one once the key is written", async () => {
    const { storage, cache } = cached();
    await storage.put("k", bytes("abc"));
    const first = await cache.getShared("k");
    expect(await cache.getShared("k")).toBe(first);
    expect(await cache.get("k")).not.toBe(first);
    await cache.put("k", bytes("xyz"));
    const written = await cache.getShared("k");
    expect(written).not.toBe(first);
    expect(text(written)).toBe("xyz");
    expect(storage.gets).toBe(1);
  });

  it("is not poisoned by a failed write: the next read asks storage", async () => {
    const { storage, cache } = cached();
    await cache.put("k", bytes("stored"));
    storage.failWrites = true;
    await expect(cache.put("k", bytes("never stored"))).rejects.toThrow(/unavailable/);
    await expect(cache.delete("k")).rejects.toThrow(/unavailable/);
    expect(text(await cache.get("k"))).toBe("stored");
    expect(storage.gets).toBe(1);
  });

  it("does not keep what a read fetched before a write to the same key landed", async () => {
    const { storage, cache } = cached();
    await storage.inner.put("k", bytes("old"));
    let open!: () => void;
    storage.gate = new Promise((resolve) => (open = resolve));
    const slowRead = cache.get("k");
    await cache.put("k", bytes("new"));
    open();
    storage.gate = null;
    expect(text(await slowRead)).toBe("old");
    expect(text(await cache.get("k"))).toBe("new");
  });

  it("caches only between begin() and end(), and starts every term empty", async () => {
    const storage = new CountingBackend();
    const cache = new CachedBackend(storage);
    await storage.inner.put("k", bytes("v1"));
    await cache.get("k");
    await cache.get("k");
    expect(storage.gets).toBe(2); // before any term: a standby's reads always go to storage

    cache.begin();
    await cache.get("k");
    await storage.inner.put("k", bytes("v2")); // another node writes while we are not looking
    cache.end();
    expect(text(await cache.get("k"))).toBe("v2");
    cache.begin();
    expect(text(await cache.get("k"))).toBe("v2");
    expect(cache.size).toBe(1);
  });

  it("empties itself the moment the term's hold is lost, and stops caching once it lapses", async () => {
    const storage = new CountingBackend();
    const cache = new CachedBackend(storage);
    const lost = new AbortController();
    let held = true;
    cache.begin({ held: () => held, lost: lost.signal });
    await cache.get("k");
    lost.abort(new Error("lock lost"));
    expect(cache.size).toBe(0);

    const lapsing = new AbortController();
    cache.begin({ held: () => held, lost: lapsing.signal });
    await cache.get("k");
    held = false; // the renewal deadline passed before any timer fired
    await cache.get("k");
    await cache.get("k");
    expect(storage.gets).toBe(4);
    expect(cache.size).toBe(0);
  });

  it("keeps lists within a period, and forgets them all at any write, even one storage refuses", async () => {
    const { storage, cache } = cached();
    await storage.inner.put("app/a", bytes("1"));
    cache.begin();
    expect(await cache.list("app/")).toEqual(["a"]);
    expect(await cache.list("app/")).toEqual(["a"]);
    expect(storage.lists).toBe(1);
    await cache.put("app/b", bytes("2"));
    expect(await cache.list("app/")).toEqual(["a", "b"]);
    storage.failWrites = true;
    await expect(cache.delete("app/a")).rejects.toThrow();
    expect(await cache.list("app/")).toEqual(["a", "b"]);
    expect(storage.lists).toBe(3);
  });

  it("does not keep a list that was read while a write landed", async () => {
    const { storage, cache } = cached();
    cache.begin();
    let open!: () => void;
    storage.gate = new Promise((resolve) => (open = resolve));
    const listing = cache.list("app/");
    await cache.put("app/a", bytes("1"));
    open();
    storage.gate = null;
    expect(await listing).toEqual([]);
    expect(await cache.list("app/")).toEqual(["a"]);
  });
});
