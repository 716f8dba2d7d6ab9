import { afterEach, describe, expect, it } from "vitest";
import type { Core } from "../../src/core.js";
import type { Forwarder } from "../../src/ha/forwarding.js";
import { askedAfterCall, WriteGeneration } from "../../src/ha/standby-generation.js";
import { createApp } from "../../src/http/app.js";
import type { Backend } from "../../src/physical/backend.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";
import { haNode, sealHANodes } from "../helpers/ha-nodes.js";

afterEach(sealHANodes);

describe("write generation (active side)", () => {
  it("changes once storage has answered a write, failed ones included, before the writer hears", async () => {
    const storage = new InmemBackend();
    const generation = new WriteGeneration("a", 7);
    const counted = generation.counting(storage);
    const start = generation.current();
    expect(start).toMatch(/^a\/7\/[0-9a-f]{16}\/0$/);
    await counted.put("k", new Uint8Array([1]));
    const afterPut = generation.current();
    expect(afterPut).not.toBe(start);
    await counted.delete("k");
    expect(generation.current()).not.toBe(afterPut);
    const failing: Backend = { ...storage, get: (k) => storage.get(k), list: (p) => storage.list(p), put: async () => Promise.reject(new Error("timeout")), delete: (k) => storage.delete(k) };
    const beforeFailure = generation.current();
    await expect(generation.counting(failing).put("k", new Uint8Array([2]))).rejects.toThrow("timeout");
    expect(generation.current()).not.toBe(beforeFailure);
    // Another term never repeats this one's generations, even on the same epoch.
    expect(new WriteGeneration("a", 7).current()).not.toBe(start);
  });
});

describe("asking after the call (standby side)", () => {
  it("never answers a caller with a question asked before it called, and shares questions not yet asked", async () => {
    const asked: Array<(answer: string) => void> = [];
    const ask = askedAfterCall(() => new Promise<string | null>((resolve) => asked.push(resolve)));
    const first = ask();
    await Promise.resolve();
    expect(asked).toHaveLength(1);
    // These arrive while the first question is out: it may predate them, so they wait for the next.
    const second = ask();
    const third = ask();
    asked[0]!("g1");
    expect(await first).toBe("g1");
    await waitFor(async () => (asked.length === 2 ? true : null), 1_000, "the second question");
    asked[1]!("g2");
    expect(await second).toBe("g2");
    expect(await third).toBe("g2");
    expect(asked).toHaveLength(2);
  });
});

/** Storage B reads through: the shared store, counting B's reads. */
function countingView(shared: Backend) {
  const view = {
    gets: 0,
    get: (key: string) => {
      view.gets++;
      return shared.get(key);
    },
    put: (key: string, value: Uint8Array) => shared.put(key, value),
    delete: (key: string) => shared.delete(key),
    list: (prefix: string) => shared.list(prefix),
  };
  return view;
}

/** Node A active and node B a standby with standby reads, asking A's generation in process. */
async function pair(answer: (a: Core) => Promise<string | null> = async (a) => a.leadership!.writeGeneration()) {
  const physical = new InmemBackend();
  const standbyStorage = countingView(physical);
  const lock = new InmemHABackend({ leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 60_000 });
  let a: Core;
  const channel: Forwarder = {
    forward: async () => Promise.reject(new Error("not forwarding in this test")),
    heartbeat: async () => {},
    writeGeneration: () => answer(a),
    close: () => {},
  };
  a = haNode("a", physical, lock);
  const b = haNode("b", standbyStorage, lock, channel, { standbyReads: true });
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
  return { a, b, standbyStorage, call };
}

describe("standby reads kept per write generation", () => {
  it("answers a warm read without storage and sees every acknowledged write at once", async () => {
    const { a, b, standbyStorage, call } = await pair();
    for (let i = 0; i < 20; i++) {
      expect((await call(a, "PUT", "secret/data/app", { data: { n: i } })).status).toBe(200);
      const read = await call(b, "GET", "secret/data/app");
      expect(read.status).toBe(200);
      expect(read.body.data.data).toEqual({ n: i });
    }
    const before = standbyStorage.gets;
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 19 });
    expect(standbyStorage.gets - before).toBe(0);
  });

  it("applies a tightened policy to the next standby read", async () => {
    const { a, b, call } = await pair();
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    await call(a, "PUT", "sys/policies/acl/reader", { policy: 'path "secret/data/app" { capabilities = ["read"] }' });
    const token = (await call(a, "POST", "auth/token/create", { policies: ["reader"] })).body.auth.client_token as string;
    expect((await call(b, "GET", "secret/data/app", undefined, token)).status).toBe(200);
    await call(a, "PUT", "sys/policies/acl/reader", { policy: 'path "secret/data/app" { capabilities = ["deny"] }' });
    expect((await call(b, "GET", "secret/data/app", undefined, token)).status).toBe(403);
  });

  it("reads storage afresh every time when the active gives no generation, and stops asking a while after a failure", async () => {
    let answering = true;
    let asked = 0;
    const { a, b, standbyStorage, call } = await pair(async (active) => {
      asked++;
      if (!answering) throw new Error("no answer from the active node");
      return active.leadership!.writeGeneration();
    });
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    answering = false;
    const before = standbyStorage.gets;
    const askedBefore = asked;
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    expect(standbyStorage.gets - before).toBeGreaterThan(3);
    // The failed question stands for the next reads: they do not each wait on the channel.
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    expect(asked - askedBefore).toBe(1);
    await call(a, "PUT", "secret/data/app", { data: { n: 2 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 2 });
  });

  it("does not wait on a question that never gets an answer: the read goes to storage", async () => {
    let hanging = false;
    const { a, b, call } = await pair(async (active) => (hanging ? new Promise<never>(() => {}) : active.leadership!.writeGeneration()));
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    hanging = true;
    await call(a, "PUT", "secret/data/app", { data: { n: 2 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 2 });
  });

  it("has the active vouch for its generation only while it is active", async () => {
    const { a } = await pair();
    expect(a.leadership!.writeGeneration()).toMatch(/^a\//);
    await a.stepDown();
    expect(a.leadership!.writeGeneration()).toBeNull();
  });
});
