import { afterEach, describe, expect, it } from "vitest";
import type { Core } from "../../src/core.js";
import type { Advertisement } from "../../src/ha/advertisement.js";
import { type Forwarder, NOT_SERVED_HEADER, NOT_SERVED_STATUS, NotDeliveredError } from "../../src/ha/forwarding.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";
import { haNode, sealHANodes } from "../helpers/ha-nodes.js";

/** Short lease so elections settle quickly; a cool-down far longer than any wait below. */
const fastTimings = { leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 60_000 };

afterEach(sealHANodes);

/** Nodes sharing one store and one lock; the first is active, with a kv v2 mount at secret/. */
async function nodes(names: string[], forwarder?: Forwarder) {
  const physical = new InmemBackend();
  const backend = new InmemHABackend(fastTimings);
  const made = names.map((name) => haNode(name, physical, backend, forwarder));
  const [first, ...others] = made;
  const init = await first!.initialize({ secret_shares: 1, secret_threshold: 1 });
  const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
  await first!.submitUnsealKey(key);
  await waitFor(async () => (first!.isActive() ? true : null), 5_000, `node ${names[0]} active`);
  await first!.enableMount("secret/", { type: "kv", options: { version: "2" } });
  for (const core of others) await core.submitUnsealKey(key);
  return { cores: made, physical, backend, token: init.root_token };
}

function holderId(backend: InmemHABackend): Promise<string | null> {
  return backend.currentHolder("core/lock").then((holder) => (holder ? (JSON.parse(holder.value) as { id: string }).id : null));
}

function write(url: string, token: string, value: number): Request {
  return new Request(url, { method: "PUT", headers: { "x-vault-token": token }, body: JSON.stringify({ data: { value } }) });
}

/** Writes of advertisements wait at the returned gate until it is opened; `release()` also restores `put`. */
function holdAdvertisements(physical: InmemBackend) {
  const advertised = gate();
  const put = physical.put.bind(physical);
  physical.put = async (key, value) => {
    if (key.startsWith("core/leader/")) await advertised.enter();
    return put(key, value);
  };
  return {
    ...advertised,
    release() {
      physical.put = put;
      advertised.open();
    },
  };
}

/** A gate that `core` arrives at when its leader view first finds no active. */
function noActiveSeen(core: Core) {
  const leadership = core.leadership!;
  const leader = leadership.leader.bind(leadership);
  const foundNone = gate();
  leadership.leader = async () => {
    const view = await leader();
    if (!view.advertisement) void foundNone.enter();
    return view;
  };
  return foundNone;
}

/** A gate: calls wait on it until `open()`; `entered` resolves when the first call arrives. */
function gate() {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const arrived = new Promise<void>((resolve) => (entered = resolve));
  return { opened, arrived, open, enter: () => (entered(), opened) };
}

describe("hold, don't fail", () => {
  it("holds a request while the new active has the lock but no advertisement yet, then redirects to it", async () => {
    const {
      cores: [a, b],
      physical,
      backend,
      token,
    } = await nodes(["a", "b"]);
    // b's advertisement is held back until the request is waiting on a.
    const advertised = holdAdvertisements(physical);
    await a!.stepDown();
    await waitFor(async () => ((await holderId(backend)) === "b" ? true : null), 5_000, "b holding the lock");
    await advertised.arrived;
    // Open the gate only once a has looked for the active and found none.
    const foundNone = noActiveSeen(a!);
    const app = createApp({ core: a!, maxRequestSize: 1024, standbyHoldMs: 5_000 });
    const held = app.fetch(new Request("http://a.example:8200/v1/secret/data/x", { headers: { "x-vault-token": token } }));
    await foundNone.arrived;
    advertised.open();
    const response = await held;
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://b.example:8200/v1/secret/data/x");
    expect(b!.isActive()).toBe(true);
  });

  it("serves a held request itself when this node becomes the active meanwhile", async () => {
    const {
      cores: [a, b],
      physical,
      backend,
      token,
    } = await nodes(["a", "b"]);
    const advertised = holdAdvertisements(physical);
    // a leaves (sealing, so no cool-down applies); b takes the lock but has not advertised yet.
    const sealing = a!.seal();
    await waitFor(async () => ((await holderId(backend)) === "b" ? true : null), 5_000, "b holding the lock");
    await advertised.arrived;
    const foundNone = noActiveSeen(b!);
    const app = createApp({ core: b!, maxRequestSize: 1024, standbyHoldMs: 5_000 });
    const held = app.fetch(write("http://b.example:8200/v1/secret/data/y", token, 7));
    await foundNone.arrived;
    advertised.release();
    expect((await held).status).toBe(200);
    await sealing;
    const read = await app.fetch(new Request("http://b.example:8200/v1/secret/data/y", { headers: { "x-vault-token": token } }));
    expect(((await read.json()) as { data: { data: unknown } }).data.data).toEqual({ value: 7 });
  });

  it("wakes what waits on this node becoming active, once it is, and not what stopped waiting", async () => {
    const {
      cores: [a, b],
    } = await nodes(["a", "b"]);
    const woken: string[] = [];
    b!.leadership!.onceActive(() => woken.push(`waiting, active: ${b!.isActive()}`));
    const stopWaiting = b!.leadership!.onceActive(() => woken.push("stopped waiting"));
    stopWaiting();
    await a!.seal();
    await waitFor(async () => (b!.isActive() ? true : null), 5_000, "b active");
    expect(woken).toEqual(["waiting, active: true"]);
  });

  it("sends a write again after a forward that provably never reached the active, and only then", async () => {
    const sent: Advertisement[] = [];
    let refusals = 1;
    const forwarder: Forwarder = {
      forward: async (_request, _body, advertisement) => {
        sent.push(advertisement);
        if (refusals-- > 0) throw new NotDeliveredError("refused stream", true);
        return new Response("applied once", { status: 200 });
      },
      heartbeat: async () => {},
      readLease: () => {
        throw new Error("no read leases in this test");
      },
      close: () => {},
    };
    const {
      cores: [, b],
      token,
    } = await nodes(["a", "b"], forwarder);
    const app = createApp({ core: b!, maxRequestSize: 1024, standbyHoldMs: 5_000 });
    const retried = await app.fetch(write("http://b.example:8200/v1/secret/data/x", token, 1));
    expect(await retried.text()).toBe("applied once");
    expect(sent).toHaveLength(2);

    // Reset after sending: the write may have been applied, so it is not sent again.
    forwarder.forward = async (_request, _body, advertisement) => {
      sent.push(advertisement);
      throw new Error("stream reset after the request was written");
    };
    const redirected = await app.fetch(write("http://b.example:8200/v1/secret/data/x", token, 2));
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get("location")).toBe("http://a.example:8200/v1/secret/data/x");
    expect(sent).toHaveLength(3);

    // No connection comes up (a broken channel as much as a restart): one more try, then the 307,
    // rather than holding every request for the whole bound.
    forwarder.forward = async (_request, _body, advertisement) => {
      sent.push(advertisement);
      throw new NotDeliveredError("connect ECONNREFUSED", false);
    };
    const unreachable = await app.fetch(write("http://b.example:8200/v1/secret/data/x", token, 3));
    expect(unreachable.status).toBe(307);
    expect(sent).toHaveLength(5);
    expect(b!.leadership!.forwarding).toMatchObject({ forwarded: 1, fallbacks: 2, holding: 0 });
  });

  it("answers a request forwarded to a node that is not active with the cluster channel's not-served marker", async () => {
    const {
      cores: [, b],
      token,
    } = await nodes(["a", "b"]);
    const app = createApp({ core: b!, maxRequestSize: 1024, standbyHoldMs: 5_000 });
    const response = await app.fetch(write("http://b.example:8200/v1/secret/data/x", token, 1), { forwarded: true });
    expect(response.status).toBe(NOT_SERVED_STATUS);
    expect(response.headers.get(NOT_SERVED_HEADER)).toBe("1");
  });
});

describe("the departing active drains", () => {
  it("keeps the lock on step-down until the request inside has finished, so its write lands", async () => {
    const {
      cores: [a, b],
      physical,
      backend,
      token,
    } = await nodes(["a", "b"]);
    // The write's first read of its mount's data waits, so the step-down comes while it is inside.
    const inside = gate();
    const get = physical.get.bind(physical);
    physical.get = async (key) => {
      if (key.startsWith("logical/")) await inside.enter();
      return get(key);
    };
    const appA = createApp({ core: a!, maxRequestSize: 1024, standbyHoldMs: 5_000 });
    const inFlight = appA.fetch(write("http://a.example:8200/v1/secret/data/x", token, 42));
    await inside.arrived;
    // A second step-down meanwhile (a repeated call, a SIGTERM) must wait for the same drain.
    const steppingDown = Promise.all([a!.stepDown(), a!.stepDown()]);
    // New requests already see a standby, but the lock stays with a while the write is inside.
    await waitFor(async () => (a!.isActive() ? null : true), 5_000, "a no longer serving new requests");
    expect(await holderId(backend)).toBe("a");
    physical.get = get;
    inside.open();
    expect((await inFlight).status).toBe(200);
    await steppingDown;
    await waitFor(async () => (b!.isActive() ? true : null), 5_000, "b active");
    const appB = createApp({ core: b!, maxRequestSize: 1024 });
    const read = await appB.fetch(new Request("http://b.example:8200/v1/secret/data/x", { headers: { "x-vault-token": token } }));
    expect(((await read.json()) as { data: { data: unknown } }).data.data).toEqual({ value: 42 });
  });

  it("reports draining in sys/health, with drainingcode to choose the status", async () => {
    const {
      cores: [a],
    } = await nodes(["a"]);
    const app = createApp({ core: a!, maxRequestSize: 1024 });
    const before = await app.fetch(new Request("http://a.example:8200/v1/sys/health"));
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ draining: false });
    a!.beginDraining();
    const draining = await app.fetch(new Request("http://a.example:8200/v1/sys/health"));
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ draining: true, sealed: false });
    expect((await app.fetch(new Request("http://a.example:8200/v1/sys/health?drainingcode=299"))).status).toBe(299);
  });
});

describe("no headless cluster", () => {
  it("has an active again soon after three step-downs in a row, all within the cool-down", async () => {
    const { cores: three } = await nodes(["a", "b", "c"]);
    for (let round = 0; round < 3; round++) {
      const active = await waitFor(async () => three.find((core) => core.isActive()) ?? null, 5_000, `an active node (round ${round})`);
      await active.stepDown();
    }
    // Every node is in its 60 s cool-down; the lock is free, so one contends after about a lease (600 ms).
    await waitFor(async () => (three.some((core) => core.isActive()) ? true : null), 5_000, "an active node after three step-downs");
  });
});
