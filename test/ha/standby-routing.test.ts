import { afterEach, describe, expect, it } from "vitest";
import type { Advertisement } from "../../src/ha/advertisement.js";
import { createApp } from "../../src/http/app.js";
import type { Forwarder } from "../../src/ha/forwarding.js";
import type { HABackend } from "../../src/physical/ha.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";
import { haNode, sealHANodes } from "../helpers/ha-nodes.js";

/** Short lease so elections settle quickly in-process. */
const fastTimings = { leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 60_000 };

afterEach(sealHANodes);
const node = haNode;

/** Node A active, node B standby, sharing one store and one lock. */
async function pair(forwarder?: Forwarder) {
  const physical = new InmemBackend();
  const backend = new InmemHABackend(fastTimings);
  const a = node("a", physical, backend);
  const b = node("b", physical, backend, forwarder);
  const init = await a.initialize({ secret_shares: 1, secret_threshold: 1 });
  const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
  await a.submitUnsealKey(key);
  await waitFor(async () => (a.isActive() ? true : null), 5_000, "node a active");
  await b.submitUnsealKey(key);
  return { a, b, token: init.root_token };
}

/** A forwarder whose forwards `forward` answers; no heartbeats or read leases. */
function forwarderThat(forward: Forwarder["forward"]): Forwarder {
  return {
    forward,
    heartbeat: async () => {},
    readLease: () => {
      throw new Error("no read leases in this test");
    },
    close: () => {},
  };
}

function request(url: string, token: string, headers: Record<string, string> = {}): Request {
  return new Request(url, { headers: { "x-vault-token": token, ...headers } });
}

describe("standby routing", () => {
  it("redirects to the advertised api_addr with the original path and query", async () => {
    const { b, token } = await pair();
    const app = createApp({ core: b, maxRequestSize: 1024 });
    const response = await app.fetch(request("http://b.example:8200/v1/secret/data/x?version=3", token));
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://a.example:8200/v1/secret/data/x?version=3");
  });

  it("answers 503 instead of redirecting to the address the request came in on", async () => {
    const { b, token } = await pair();
    const app = createApp({ core: b, maxRequestSize: 1024 });
    const response = await app.fetch(request("http://a.example:8200/v1/secret/data/x", token));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { errors: string[] }).errors[0]).toMatch(/would loop/);
  });

  it("forwards when it can, redirects on request or on failure, and counts both", async () => {
    const seen: Advertisement[] = [];
    let failing = false;
    const forwarder = forwarderThat(async (_request, _body, advertisement) => {
      seen.push(advertisement);
      if (failing) throw new Error("connection refused");
      return new Response("from the active", { status: 200 });
    });
    const { b, token } = await pair(forwarder);
    const app = createApp({ core: b, maxRequestSize: 1024 });

    const forwarded = await app.fetch(request("http://b.example:8200/v1/secret/data/x", token));
    expect(await forwarded.text()).toBe("from the active");
    expect(seen[0]).toMatchObject({ node_id: "a", cluster_addr: "https://a.example:8201" });

    const optedOut = await app.fetch(request("http://b.example:8200/v1/secret/data/x", token, { "x-vault-no-request-forwarding": "1" }));
    expect(optedOut.status).toBe(307);
    expect(seen).toHaveLength(1);

    failing = true;
    const fallback = await app.fetch(request("http://b.example:8200/v1/secret/data/x", token));
    expect(fallback.status).toBe(307);
    expect(b.leadership?.forwarding).toMatchObject({ forwarded: 1, fallbacks: 1, held: 0 });
  });

  it("sends a read that failed in transit once more on a fresh connection, and redirects a write", async () => {
    const methods: string[] = [];
    let failures = 1;
    const forwarder = forwarderThat(async (request) => {
      methods.push(request.method);
      // The session dropped under the request (as a heartbeat timeout drops it): it was sent.
      if (failures-- > 0) throw new Error("the cluster stream closed without an answer");
      return new Response("from the active", { status: 200 });
    });
    const { b, token } = await pair(forwarder);
    const app = createApp({ core: b, maxRequestSize: 1024, standbyHoldMs: 5_000 });

    const read = await app.fetch(request("http://b.example:8200/v1/secret/data/x", token));
    expect(read.status).toBe(200);
    expect(methods).toEqual(["GET", "GET"]);

    failures = 1;
    const write = await app.fetch(new Request("http://b.example:8200/v1/secret/data/x", { method: "POST", headers: { "x-vault-token": token }, body: "{}" }));
    expect(write.status).toBe(307);
    expect(methods).toEqual(["GET", "GET", "POST"]);
    expect(b.leadership?.forwarding).toMatchObject({ forwarded: 1, fallbacks: 1 });
  });

  it("answers 503 with Retry-After when no active node is known", async () => {
    const physical = new InmemBackend();
    const neverGranted: HABackend = {
      haEnabled: true,
      lockWith: () => ({ acquire: (signal) => new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason))) }),
      currentHolder: async () => null,
      stepDownCooldownMs: 10_000,
      leaseMs: 600,
    };
    const core = node("lonely", physical, neverGranted);
    const init = await core.initialize({ secret_shares: 1, secret_threshold: 1 });
    await core.submitUnsealKey(Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0)));
    const app = createApp({ core, maxRequestSize: 1024, standbyHoldMs: 100 });
    const response = await app.fetch(request("http://lonely.example:8200/v1/secret/data/x", init.root_token));
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect((await app.fetch(new Request("http://lonely.example:8200/v1/sys/health"))).status).toBe(429);
  });

  it("hands over on step-down and stops serving as active at once", async () => {
    const { a, b, token } = await pair();
    const appA = createApp({ core: a, maxRequestSize: 1024 });
    await a.stepDown();
    expect(a.isActive()).toBe(false);
    const redirected = await appA.fetch(request("http://a.example:8200/v1/secret/data/x", token));
    expect([307, 503]).toContain(redirected.status);
    await waitFor(async () => (b.isActive() ? true : null), 5_000, "node b active");
    const now = await appA.fetch(request("http://a.example:8200/v1/secret/data/x", token));
    expect(now.headers.get("location")).toBe("http://b.example:8200/v1/secret/data/x");
  });
});

describe("election", () => {
  it("gives the lock up when stopped while becoming active", async () => {
    const physical = new InmemBackend();
    const backend = new InmemHABackend(fastTimings);
    const a = node("a", physical, backend);
    const init = await a.initialize({ secret_shares: 1, secret_threshold: 1 });
    // Seal the moment the lock is granted, before activation completes.
    const lockWith = backend.lockWith.bind(backend);
    let sealing: Promise<void> | undefined;
    backend.lockWith = (key, value) => {
      const lock = lockWith(key, value);
      return {
        acquire: async (signal) => {
          const hold = await lock.acquire(signal);
          sealing = a.seal();
          return hold;
        },
      };
    };
    await a.submitUnsealKey(Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0)));
    await waitFor(async () => (sealing ? true : null), 5_000, "the lock granted");
    await sealing;
    await waitFor(async () => ((await backend.currentHolder("core/lock")) === null ? true : null), 5_000, "the lock released");
    expect(a.isActive()).toBe(false);
    expect(a.sealed).toBe(true);
  });
});

describe("standby routing when the lock store is unreachable", () => {
  it("answers 503 with Retry-After at once instead of an internal error or holding the request", async () => {
    const { b, token } = await pair();
    // A hold longer than any test: the answer must not wait for it.
    const app = createApp({ core: b, maxRequestSize: 1024, standbyHoldMs: 600_000 });
    const leadership = b.leadership!;
    const leader = leadership.leader.bind(leadership);
    let lookUps = 0;
    leadership.leader = async () => {
      lookUps++;
      throw new Error("connect ETIMEDOUT");
    };
    const response = await app.fetch(request("http://b.example:8200/v1/secret/data/x", token));
    leadership.leader = leader;
    expect(lookUps).toBe(1);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(((await response.json()) as { errors: string[] }).errors[0]).toMatch(/lock store cannot be reached/);
  });
});

describe("a node whose activation fails", () => {
  it("backs off instead of spinning on the lock", async () => {
    const physical = new InmemBackend();
    const backend = new InmemHABackend(fastTimings);
    const core = node("a", physical, backend);
    const init = await core.initialize({ secret_shares: 1, secret_threshold: 1 });
    // Storage refuses the advertisement, so every activation fails.
    const put = physical.put.bind(physical);
    physical.put = async (key, value) => {
      if (key.startsWith("core/leader/")) throw new Error("write refused");
      return put(key, value);
    };
    let acquisitions = 0;
    const lockWith = backend.lockWith.bind(backend);
    backend.lockWith = (key, value) => {
      const lock = lockWith(key, value);
      return { acquire: (signal) => lock.acquire(signal).then((hold) => (acquisitions++, hold)) };
    };
    await core.submitUnsealKey(Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0)));
    await waitFor(async () => (acquisitions > 0 ? true : null), 5_000, "a first acquisition");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(core.isActive()).toBe(false);
    expect(acquisitions).toBe(1);
  });
});

describe("standby bodies", () => {
  it("passes a write's body on without parsing it: invalid JSON is the active's to refuse", async () => {
    const { b, token } = await pair();
    const app = createApp({ core: b, maxRequestSize: 1024 });
    const response = await app.fetch(
      new Request("http://b.example:8200/v1/secret/data/x", { method: "PUT", headers: { "x-vault-token": token }, body: "{not json" }),
    );
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://a.example:8200/v1/secret/data/x");
  });
});
