import { afterEach, describe, expect, it, vi } from "vitest";
import type { Core } from "../../src/core.js";
import type { Forwarder } from "../../src/ha/forwarding.js";
import { ReadLeaseGrants } from "../../src/ha/read-lease-grants.js";
import { WriteGeneration } from "../../src/ha/standby-generation.js";
import { createApp } from "../../src/http/app.js";
import type { Backend } from "../../src/physical/backend.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";
import { haNode, sealHANodes } from "../helpers/ha-nodes.js";

afterEach(async () => {
  vi.useRealTimers();
  await sealHANodes();
});

describe("write generation (active side)", () => {
  it("changes once storage has answered a write, failed ones included, and tells the standbys before the writer hears", async () => {
    const storage = new InmemBackend();
    const generation = new WriteGeneration(7);
    const told: string[] = [];
    let release!: () => void;
    const counted = generation.counting(storage, (written) => {
      told.push(written);
      return new Promise((resolve) => (release = resolve));
    });
    const start = generation.current();
    expect(start).toMatch(/^7\/[0-9a-f]{16}\/0$/);
    let acknowledged = false;
    const put = counted.put("k", new Uint8Array([1])).then(() => (acknowledged = true));
    await waitFor(async () => (told.length === 1 ? true : null), 1_000, "the standbys told");
    expect(told[0]).toBe(generation.current());
    expect(told[0]).not.toBe(start);
    expect(acknowledged).toBe(false);
    release();
    await put;
    const failing: Backend = {
      ...storage,
      get: (k) => storage.get(k),
      list: (p) => storage.list(p),
      put: async () => Promise.reject(new Error("timeout")),
      delete: (k) => storage.delete(k),
    };
    const beforeFailure = generation.current();
    await expect(generation.counting(failing, async () => {}).put("k", new Uint8Array([2]))).rejects.toThrow("timeout");
    expect(generation.current()).not.toBe(beforeFailure);
    // Another term never repeats this one's generations, even on the same epoch.
    expect(new WriteGeneration(7).current()).not.toBe(start);
  });
});

/** The active's grants with one standby channel whose lines are collected; fake timers drive leases. */
function grantsWithChannel(grantable: { generation: string; certainForMs: number } | null = { generation: "1/ab/0", certainForMs: 5_000 }) {
  vi.useFakeTimers();
  let vouching = grantable;
  const grants = new ReadLeaseGrants(
    () => vouching,
    () => Date.now(),
  );
  const sent: string[] = [];
  const channel = grants.open((line) => sent.push(line));
  const settled = (promise: Promise<void>) => {
    const state = { done: false };
    void promise.then(() => (state.done = true));
    return state;
  };
  return { grants, sent, channel, settled, stopVouching: () => (vouching = null) };
}

describe("read lease grants (active side)", () => {
  it("acknowledges a write only after the standby holding a lease has acknowledged it", async () => {
    const { grants, sent, channel, settled } = grantsWithChannel();
    channel.receive("lease");
    expect(sent).toEqual(["granted 1000 1/ab/0"]);
    const write = settled(grants.written("1/ab/1"));
    expect(sent.at(-1)).toBe("written 1 1/ab/1");
    await vi.advanceTimersByTimeAsync(500);
    expect(write.done).toBe(false);
    channel.receive("ack 1");
    await vi.advanceTimersByTimeAsync(0);
    expect(write.done).toBe(true);
  });

  it("waits for a silent standby exactly until its lease runs out, then no longer tells it", async () => {
    const { grants, sent, channel, settled } = grantsWithChannel();
    channel.receive("lease");
    const write = settled(grants.written("1/ab/1"));
    await vi.advanceTimersByTimeAsync(999);
    expect(write.done).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(write.done).toBe(true);
    const count = sent.length;
    await grants.written("1/ab/2");
    expect(sent).toHaveLength(count);
  });

  it("keeps waiting after the channel closed (the standby may not know yet), but not after the standby released", async () => {
    const closedCase = grantsWithChannel();
    closedCase.channel.receive("lease");
    const write = closedCase.settled(closedCase.grants.written("1/ab/1"));
    closedCase.channel.closed();
    await vi.advanceTimersByTimeAsync(900);
    expect(write.done).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(write.done).toBe(true);
    vi.useRealTimers();

    const released = grantsWithChannel();
    released.channel.receive("lease");
    const next = released.settled(released.grants.written("1/ab/1"));
    released.channel.receive("release");
    await vi.advanceTimersByTimeAsync(0);
    expect(next.done).toBe(true);
  });

  it("grants no longer than its hold is certain, and nothing when it cannot vouch", () => {
    const short = grantsWithChannel({ generation: "1/ab/0", certainForMs: 420.7 });
    short.channel.receive("lease");
    expect(short.sent).toEqual(["granted 420 1/ab/0"]);
    short.stopVouching();
    short.channel.receive("lease");
    expect(short.sent.at(-1)).toBe("refused");
    vi.useRealTimers();
    const almostOver = grantsWithChannel({ generation: "1/ab/0", certainForMs: 20 });
    almostOver.channel.receive("lease");
    expect(almostOver.sent).toEqual(["refused"]);
  });

  it("revokes every running lease before the lock is released, and ignores acknowledgements it never asked for", async () => {
    const { grants, sent, channel, settled } = grantsWithChannel();
    channel.receive("lease");
    channel.receive("ack 5");
    channel.receive("ack 1e3");
    channel.receive("lease\u0000");
    const revoking = settled(grants.revokeAll());
    expect(sent.at(-1)).toBe("revoked 1");
    await vi.advanceTimersByTimeAsync(0);
    expect(revoking.done).toBe(false);
    channel.receive("ack 1");
    await vi.advanceTimersByTimeAsync(0);
    expect(revoking.done).toBe(true);
  });
});

/**
 * In-process lease channels between cores (by advertised node id), delivering lines in order a
 * turn of the event loop later, as a network would; `freeze` holds every line until `thaw`.
 */
function leaseNetwork(cores: Map<string, Core>) {
  let frozen = false;
  let held: Array<() => void> = [];
  const deliver = (step: () => void) => {
    if (frozen) held.push(step);
    else setTimeout(step, 0);
  };
  const forwarder: Forwarder = {
    forward: async () => Promise.reject(new Error("not forwarding in this test")),
    heartbeat: async () => {},
    readLease: (advertisement, receive, closed) => {
      let open = true;
      const active = cores.get(advertisement.node_id)!.leadership!.openReadLease((line) => deliver(() => open && receive(line)));
      return {
        send: (line) => deliver(() => open && active.receive(line)),
        close: () =>
          deliver(() => {
            if (!open) return;
            open = false;
            active.closed();
            closed();
          }),
      };
    },
    close: () => {},
  };
  return {
    forwarder,
    freeze: () => (frozen = true),
    thaw: () => {
      frozen = false;
      for (const step of held.splice(0)) setTimeout(step, 0);
      held = [];
    },
  };
}

/** Storage a standby reads through: the shared store, counting its reads. */
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

/** Node a active, the others standbys with standby reads and read leases over `leaseNetwork`. */
async function cluster(names = ["a", "b"]) {
  const physical = new InmemBackend();
  const lock = new InmemHABackend({ leaseMs: 1_500, renewIntervalMs: 300, retryIntervalMs: 50, stepDownCooldownMs: 60_000 });
  const cores = new Map<string, Core>();
  const network = leaseNetwork(cores);
  const storage = new Map(names.map((name) => [name, countingView(physical)]));
  for (const name of names) cores.set(name, haNode(name, storage.get(name)!, lock, network.forwarder, { standbyReads: name !== "a" }));
  const a = cores.get("a")!;
  const init = await a.initialize({ secret_shares: 1, secret_threshold: 1 });
  const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
  await a.submitUnsealKey(key);
  await waitFor(async () => (a.isActive() ? true : null), 5_000, "node a active");
  for (const name of names.slice(1)) await cores.get(name)!.submitUnsealKey(key);
  const call = async (core: Core, method: string, path: string, body?: unknown, token = init.root_token) => {
    const response = await createApp({ core, maxRequestSize: 1 << 20 }).fetch(
      new Request(`http://node.example:8200/v1/${path}`, {
        method,
        headers: { "x-vault-token": token, "x-vault-no-request-forwarding": "true" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  expect((await call(a, "POST", "sys/mounts/secret", { type: "kv-v2" })).status).toBe(204);
  return { cores, a, b: cores.get("b")!, storage, network, call };
}

describe("standby reads under a read lease", () => {
  it("answers warm reads without storage and sees every acknowledged write at once", async () => {
    const { a, b, storage, call } = await cluster();
    for (let i = 0; i < 20; i++) {
      expect((await call(a, "PUT", "secret/data/app", { data: { n: i } })).status).toBe(200);
      const read = await call(b, "GET", "secret/data/app");
      expect(read.status).toBe(200);
      expect(read.body.data.data).toEqual({ n: i });
    }
    const before = storage.get("b")!.gets;
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 19 });
    expect(storage.get("b")!.gets - before).toBe(0);
  });

  it("sends writes on to the active without loading the state of each new write generation", async () => {
    const { a, b, storage, call } = await cluster();
    await call(a, "PUT", "secret/data/app", { data: { n: 0 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 0 });
    const before = storage.get("b")!.gets;
    for (let n = 1; n <= 10; n++) {
      // Each acknowledged write is a new generation; the writes sent to b go to the active (a 307 here).
      expect((await call(a, "PUT", "secret/data/app", { data: { n } })).status).toBe(200);
      expect((await call(b, "PUT", "secret/data/app", { data: { n: -n } })).status).toBe(307);
      expect((await call(b, "DELETE", "secret/data/app")).status).toBe(307);
    }
    // Loading a generation's state reads the mount, auth and audit tables and more: 20 of them would be 100+.
    expect(storage.get("b")!.gets - before).toBeLessThan(10);
    // The next read still sees the last acknowledged write.
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 10 });
  });

  it("applies a tightened policy to the next standby read", async () => {
    const { a, b, call } = await cluster();
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    await call(a, "PUT", "sys/policies/acl/reader", { policy: 'path "secret/data/app" { capabilities = ["read"] }' });
    const token = (await call(a, "POST", "auth/token/create", { policies: ["reader"] })).body.auth.client_token as string;
    expect((await call(b, "GET", "secret/data/app", undefined, token)).status).toBe(200);
    await call(a, "PUT", "sys/policies/acl/reader", { policy: 'path "secret/data/app" { capabilities = ["deny"] }' });
    expect((await call(b, "GET", "secret/data/app", undefined, token)).status).toBe(403);
  });

  it("holds a write while a standby's lease may run and it cannot hear; the standby then reads storage afresh", async () => {
    const { a, b, storage, network, call } = await cluster();
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    network.freeze();
    // Acknowledged only once b's lease has run out on a's clock (b cannot hear of it).
    expect((await call(a, "PUT", "secret/data/app", { data: { n: 2 } })).status).toBe(200);
    const before = storage.get("b")!.gets;
    expect((await call(b, "GET", "secret/data/app")).body.data.data).toEqual({ n: 2 });
    expect(storage.get("b")!.gets - before).toBeGreaterThan(3);
    network.thaw();
  });

  it("revokes the standbys' leases before stepping down, so the next active's writes are seen at once", async () => {
    const { cores, a, call } = await cluster(["a", "b", "c"]);
    await call(a, "PUT", "secret/data/app", { data: { n: 1 } });
    for (const name of ["b", "c"]) expect((await call(cores.get(name)!, "GET", "secret/data/app")).body.data.data).toEqual({ n: 1 });
    await a.stepDown();
    const next = await waitFor(async () => [...cores.values()].find((core) => core.isActive()) ?? null, 10_000, "a new active");
    expect((await call(next, "PUT", "secret/data/app", { data: { n: 2 } })).status).toBe(200);
    const other = ["b", "c"].map((name) => cores.get(name)!).find((core) => core !== next)!;
    expect((await call(other, "GET", "secret/data/app")).body.data.data).toEqual({ n: 2 });
  });

  it("is granted leases only by a node that is certainly active", async () => {
    const { a } = await cluster();
    const lines: string[] = [];
    const channel = a.leadership!.openReadLease((line) => lines.push(line));
    channel.receive("lease");
    expect(lines.at(-1)).toMatch(/^granted \d+ \d+\/[0-9a-f]{16}\/\d+$/);
    await a.stepDown();
    channel.receive("lease");
    expect(lines.at(-1)).toBe("refused");
  });
});
