import { afterEach, describe, expect, it } from "vitest";
import type { Core } from "../../src/core.js";
import { GENERATION_KEY, readGeneration, stampingWrites } from "../../src/ha/standby-generation.js";
import { createApp } from "../../src/http/app.js";
import type { Backend } from "../../src/physical/backend.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";
import { haNode, sealHANodes } from "../helpers/ha-nodes.js";

afterEach(sealHANodes);

/** Storage that records the order of what reached it and counts reads. */
class RecordingBackend extends InmemBackend {
  events: string[] = [];
  gets = 0;
  failStamps = false;

  override async get(key: string) {
    this.gets++;
    return super.get(key);
  }

  override async put(key: string, value: Uint8Array) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (key === GENERATION_KEY && this.failStamps) throw new Error("storage unavailable");
    await super.put(key, value);
    this.events.push(key === GENERATION_KEY ? "stamp" : `put ${key}`);
  }
}

describe("write generation (stampingWrites)", () => {
  it("acknowledges a write only after a new stamp was stored after it", async () => {
    const storage = new RecordingBackend();
    const writes = stampingWrites(storage);
    await writes.put("a", new Uint8Array([1]));
    const first = await readGeneration(storage);
    expect(storage.events).toEqual(["put a", "stamp"]);
    await writes.delete("a");
    const second = await readGeneration(storage);
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(second).not.toBe(first);
    expect(storage.events.at(-1)).toBe("stamp");
  });

  it("lets writes that finish together share a stamp, never one that started before them", async () => {
    const storage = new RecordingBackend();
    const writes = stampingWrites(storage);
    await Promise.all(Array.from({ length: 20 }, (_, i) => writes.put(`k${i}`, new Uint8Array([i]))));
    const stamps = storage.events.filter((event) => event === "stamp").length;
    expect(stamps).toBeLessThan(20);
    // Every write is followed by a stamp stored after it.
    expect(storage.events.at(-1)).toBe("stamp");
    for (let i = 0; i < 20; i++) expect(storage.events.indexOf("stamp", storage.events.indexOf(`put k${i}`))).toBeGreaterThan(-1);
  });

  it("fails the write when the stamp cannot be stored", async () => {
    const storage = new RecordingBackend();
    storage.failStamps = true;
    await expect(stampingWrites(storage).put("a", new Uint8Array([1]))).rejects.toThrow("storage unavailable");
  });
});

/** Node A active and node B standby on one store; B reads storage through `standbyStorage`. */
async function pair(options: { activeStamps: boolean; leftoverStamp?: boolean }) {
  const physical = new InmemBackend();
  // As an earlier active with standby_reads would have left it.
  if (options.leftoverStamp) await physical.put(GENERATION_KEY, new Uint8Array(16).fill(7));
  const standbyStorage = new RecordingBackend();
  // B sees the same entries as A: its storage is a view of A's that counts B's reads.
  const viewOfShared: Backend = {
    get: (key) => {
      standbyStorage.gets++;
      return physical.get(key);
    },
    put: (key, value) => physical.put(key, value),
    delete: (key) => physical.delete(key),
    list: (prefix) => physical.list(prefix),
  };
  const lock = new InmemHABackend({ leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 60_000 });
  const a = haNode("a", physical, lock, undefined, { standbyReads: options.activeStamps });
  const b = haNode("b", viewOfShared, lock, undefined, { standbyReads: true });
  const init = await a.initialize({ secret_shares: 1, secret_threshold: 1 });
  const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
  await a.submitUnsealKey(key);
  await waitFor(async () => (a.isActive() ? true : null), 5_000, "node a active");
  await b.submitUnsealKey(key);
  const call = async (core: Core, method: string, path: string, body?: unknown, token = init.root_token) => {
    const response = await createApp({ core, maxRequestSize: 1 << 20 }).fetch(
      new Request(`http://${core === a ? "a" : "b"}.example:8200/v1/${path}`, {
        method,
        headers: { "x-vault-token": token, "x-vault-no-request-forwarding": "true" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  expect((await call(a, "POST", "sys/mounts/secret", { type: "kv-v2" })).status).toBe(204);
  return { a, b, physical, standbyStorage, call, rootToken: init.root_token };
}

describe("standby reads kept per write generation", () => {
  it("answers a warm read with one storage read (the generation) and sees every acknowledged write at once", async () => {
    const { a, b, standbyStorage, call } = await pair({ activeStamps: true });
    for (let i = 0; i < 20; i++) {
      expect((await call(a, "PUT", "secret/data/app", { data: { n: i } })).status).toBe(200);
      const read = await call(b, "GET", "secret/data/app");
      expect(read.status).toBe(200);
      expect(read.body.data.data).toEqual({ n: i });
    }
    const before = standbyStorage.gets;
    const warm = await call(b, "GET", "secret/data/app");
    expect(warm.body.data.data).toEqual({ n: 19 });
    expect(standbyStorage.gets - before).toBe(1);
  });

  it("applies a tightened policy to the next standby read", async () => {
    const { a, b, call } = await pair({ activeStamps: true });
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    await call(a, "PUT", "sys/policies/acl/reader", { policy: 'path "secret/data/app" { capabilities = ["read"] }' });
    const token = (await call(a, "POST", "auth/token/create", { policies: ["reader"] })).body.auth.client_token as string;
    expect((await call(b, "GET", "secret/data/app", undefined, token)).status).toBe(200);
    await call(a, "PUT", "sys/policies/acl/reader", { policy: 'path "secret/data/app" { capabilities = ["deny"] }' });
    expect((await call(b, "GET", "secret/data/app", undefined, token)).status).toBe(403);
  });

  it("keeps nothing when the active does not stamp, and the active removes a stamp left by an earlier one", async () => {
    const { a, b, physical, standbyStorage, call } = await pair({ activeStamps: false, leftoverStamp: true });
    expect(await physical.get(GENERATION_KEY)).toBeNull();
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    const before = standbyStorage.gets;
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    expect(standbyStorage.gets - before).toBeGreaterThan(3);
    await call(a, "PUT", "secret/data/app", { data: { n: 2 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 2 });
  });
});
