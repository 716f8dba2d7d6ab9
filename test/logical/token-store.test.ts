import { beforeEach, describe, expect, it } from "vitest";
import { TokenStore } from "../../src/logical/token-store.js";
import type { Storage } from "../../src/sdk/types.js";
import { InmemBackend } from "../../src/physical/inmem.js";

/** In-memory storage that counts entry reads, to show what a sweep costs. */
class CountingStorage extends InmemBackend implements Storage {
  gets = 0;
  override async get(key: string): Promise<Uint8Array | null> {
    this.gets += 1;
    return super.get(key);
  }
}

let clock: number;
let storage: CountingStorage;
let store: TokenStore;

beforeEach(async () => {
  clock = Date.parse("2026-01-01T00:00:00Z");
  storage = new CountingStorage();
  store = await TokenStore.open(storage, () => clock);
});

const advance = (seconds: number) => (clock += seconds * 1000);

async function issue(options: { ttl?: number; parent?: string; orphan?: boolean; policies?: string[] } = {}) {
  const parent = options.parent === undefined ? undefined : (await store.lookup(options.parent))!;
  const { token } = await store.create({ policies: options.policies ?? ["app"], ttl: options.ttl, parent, orphan: options.orphan });
  return token;
}

async function storedTokenCount(): Promise<number> {
  return (await storage.list("id/")).length;
}

describe("TokenStore.revokeExpired", () => {
  it("revokes each expired token with its descendants and nothing else", async () => {
    const root = await issue({ policies: ["root"] });
    const parent = await issue({ ttl: 60, parent: root });
    await issue({ ttl: 3600, parent });
    const orphan = await issue({ ttl: 3600, parent, orphan: true });
    const sibling = await issue({ ttl: 3600, parent: root });
    advance(61);
    expect(await store.revokeExpired()).toBe(2);
    expect(await storedTokenCount()).toBe(3);
    for (const token of [root, orphan, sibling]) expect(await store.lookup(token)).not.toBeNull();
    expect(await store.revokeExpired()).toBe(0);
  });

  it("follows renewals: a token is swept at its new expiry, not its old one", async () => {
    const token = await issue({ ttl: 60 });
    advance(30);
    await store.renew((await store.lookup(token))!, 3600);
    advance(40);
    expect(await store.revokeExpired()).toBe(0);
    expect(await store.lookup(token)).not.toBeNull();
    advance(3600);
    expect(await store.revokeExpired()).toBe(1);
    expect(await storedTokenCount()).toBe(0);
  });

  it("reads only the expired tokens, however many live ones there are", async () => {
    for (let i = 0; i < 200; i++) await issue({ ttl: 3600 });
    await issue({ ttl: 60 });
    advance(61);
    storage.gets = 0;
    expect(await store.revokeExpired()).toBe(1);
    expect(storage.gets).toBeLessThan(10);
  });

  it("also sweeps tokens stored before the expiry index existed", async () => {
    await issue({ ttl: 60 });
    for (const hour of await storage.list("expiry/")) {
      for (const minute of await storage.list(`expiry/${hour}`)) {
        for (const hash of await storage.list(`expiry/${hour}${minute}`)) await storage.delete(`expiry/${hour}${minute}${hash}`);
      }
    }
    await storage.delete("expiry-indexed");
    const reopened = await TokenStore.open(storage, () => clock);
    advance(61);
    expect(await reopened.revokeExpired()).toBe(1);
    expect(await storedTokenCount()).toBe(0);
  });
});

describe("TokenStore.lookup", () => {
  it("refuses and revokes a token whose parent is gone (an interrupted revocation)", async () => {
    const parent = await issue({ ttl: 3600 });
    const child = await issue({ ttl: 3600, parent });
    const grandchild = await issue({ ttl: 3600, parent: child });
    await storage.delete(`id/${await store.hash(parent)}`);
    expect(await store.lookup(grandchild)).toBeNull();
    expect(await storedTokenCount()).toBe(0);
    expect(await store.lookup(child)).toBeNull();
  });
});

describe("entries stored before durations were capped", () => {
  it("read with capped durations, so a lookup can still format them", async () => {
    const token = await issue({ ttl: 60 });
    const [hash] = await storage.list("id/");
    const key = `id/${hash}`;
    const stored = JSON.parse(new TextDecoder().decode((await storage.get(key))!));
    await storage.put(key, new TextEncoder().encode(JSON.stringify({ ...stored, creation_ttl: 1e300, period: 3.6e15, expire_time: 1e303 })));
    const entry = (await store.lookup(token))!;
    expect(entry).not.toBeNull();
    expect(() => new Date(entry.expire_time!).toISOString()).not.toThrow();
    expect(entry.creation_ttl).toBe(9_223_372_036);
    expect(entry.period).toBe(9_223_372_036);
  });
});
