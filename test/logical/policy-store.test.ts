import { describe, expect, it } from "vitest";
import { POLICY_CACHE_SIZE, PolicyStore } from "../../src/logical/policy/policy-store.js";
import type { Storage } from "../../src/sdk/types.js";

/** In-memory storage that counts reads per key. */
function countingStorage() {
  const entries = new Map<string, Uint8Array>();
  const reads = new Map<string, number>();
  const storage: Storage = {
    async get(key) {
      reads.set(key, (reads.get(key) ?? 0) + 1);
      return entries.get(key) ?? null;
    },
    async put(key, value) {
      entries.set(key, value);
    },
    async delete(key) {
      entries.delete(key);
    },
    async list(prefix) {
      return [...entries.keys()]
        .filter((key) => key.startsWith(prefix))
        .map((key) => key.slice(prefix.length))
        .sort();
    },
  };
  return { storage, readsOf: (key: string) => reads.get(key) ?? 0 };
}

describe("policy cache", () => {
  it("remembers misses only up to its bound: many distinct unknown names do not stay in memory", async () => {
    const { storage, readsOf } = countingStorage();
    const store = await PolicyStore.open(storage);
    expect(await store.get("missing-0")).toBeNull();
    expect(await store.get("missing-0")).toBeNull();
    expect(readsOf("sys/policy/missing-0")).toBe(1); // a recent miss is cached
    for (let i = 1; i <= POLICY_CACHE_SIZE; i++) await store.get(`missing-${i}`);
    await store.get("missing-0");
    expect(readsOf("sys/policy/missing-0")).toBe(2); // evicted, so read again
  });

  it("keeps a policy in use while unknown names stream past", async () => {
    const { storage, readsOf } = countingStorage();
    const store = await PolicyStore.open(storage);
    await store.put("dev", `path "secret/*" { capabilities = ["read"] }`);
    for (let i = 0; i < 2 * POLICY_CACHE_SIZE; i++) {
      expect((await store.get("dev"))?.name).toBe("dev");
      await store.get(`missing-${i}`);
    }
    expect(readsOf("sys/policy/dev")).toBe(1);
  });

  it("bounds the ACL cache the same way", async () => {
    const { storage, readsOf } = countingStorage();
    const store = await PolicyStore.open(storage);
    await store.acl(["default", "set-0"]);
    for (let i = 1; i <= POLICY_CACHE_SIZE; i++) await store.acl([`set-${i}`]);
    // Both caches have dropped set-0: building its ACL again reads the policy again.
    await store.acl(["default", "set-0"]);
    expect(readsOf("sys/policy/set-0")).toBe(2);
  });
});
