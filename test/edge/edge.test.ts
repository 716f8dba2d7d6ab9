import { randomUUID } from "node:crypto";
import { type Server, createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LOCK_KEY } from "../../src/ha/lock-value.js";
import { type Clock, type LockHold, monotonicClock } from "../../src/physical/ha.js";
import { type DynamoDBBackend, createDynamoDBBackend } from "../../src/physical/dynamodb.js";
import { waitFor } from "../helpers/cluster.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { type WranglerDev, startWranglerDev } from "../helpers/wrangler-dev.js";

/**
 * The edge Worker in real workerd (`wrangler dev`) against DynamoDB Local, with lock records
 * written by the servers' own DynamoDB lock. The Worker reaches DynamoDB through a fault proxy.
 */

const LEADER_CACHE_MS = 300;
const HOLDER_TIMEOUT_MS = 1000;
const MAX_STALE_MS = 1500;
const LEADER_WAIT_MS = 3000;
/** Slack for a condition that must hold within a cache period: DynamoDB round trips, polling. */
const SLACK_MS = 1500;
/** Bounds each lock acquisition and edge request, so a stuck step fails by name rather than by test timeout. */
const STEP_LIMIT_MS = 15_000;
/** Several steps of up to a few seconds each; on a loaded CI machine they stretch, so the tests get room. */
const TEST_LIMIT_MS = 90_000;

interface FakeNode {
  name: string;
  url: string;
  server: Server;
}

/** Plays an active node: echoes the method, URL and body it received. */
async function startFakeNode(name: string): Promise<FakeNode> {
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk));
    request.on("end", () => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ node: name, method: request.method, url: request.url, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { name, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

/** A monotonic clock whose sleeps stop resolving once frozen: the holder's renewals stop, as in a hung process. */
function freezableClock(): { clock: Clock; freeze(): void } {
  let frozen = false;
  const clock: Clock = {
    now: monotonicClock.now,
    sleep: (ms, signal) =>
      frozen ? new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason), { once: true })) : monotonicClock.sleep(ms, signal),
  };
  return { clock, freeze: () => (frozen = true) };
}

const lockValue = (id: string, apiAddr: string) => JSON.stringify({ id, api_addr: apiAddr });

describe("edge Worker", { timeout: TEST_LIMIT_MS }, () => {
  const endpoint = inject("dynamodbEndpoint");
  const table = `strongbox-edge-${randomUUID()}`;
  const options = { table, endpoint, region: "us-east-1", access_key: "test", secret_key: "test", ha_enabled: "true" };
  let backend: DynamoDBBackend;
  let proxy: FaultProxy;
  let edge: WranglerDev;
  let nodeA: FakeNode;
  let nodeB: FakeNode;
  /** Every hold taken, released at the end (a release that finds the record changed is a no-op). */
  const holds: LockHold[] = [];

  beforeAll(async () => {
    backend = await createDynamoDBBackend(options, {});
    proxy = await startFaultProxy(endpoint);
    [nodeA, nodeB] = await Promise.all([startFakeNode("a"), startFakeNode("b")]);
    edge = await startWranglerDev({
      AWS_DYNAMODB_TABLE: table,
      AWS_DYNAMODB_ENDPOINT: proxy.endpoint,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      LEADER_CACHE_MS: String(LEADER_CACHE_MS),
      HOLDER_TIMEOUT_MS: String(HOLDER_TIMEOUT_MS),
      MAX_STALE_MS: String(MAX_STALE_MS),
      LEADER_WAIT_MS: String(LEADER_WAIT_MS),
    });
  });

  afterAll(async () => {
    await Promise.allSettled(holds.map((hold) => hold.release()));
    await edge?.stop();
    await proxy?.close();
    for (const node of [nodeA, nodeB]) node?.server.close();
  });

  /** Takes the lock; a takeover waits out a full lease. Bounded, so a stuck acquisition names itself. */
  async function take(value: string, from: DynamoDBBackend = backend): Promise<LockHold> {
    const hold = await from
      .lockWith(LOCK_KEY, value)
      .acquire(AbortSignal.timeout(STEP_LIMIT_MS))
      .catch((error: unknown) => {
        throw new Error(`taking the lock for ${value} did not finish within ${STEP_LIMIT_MS} ms`, { cause: error });
      });
    holds.push(hold);
    return hold;
  }

  function edgeRequest(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${edge.url}${path}`, { redirect: "manual", signal: AbortSignal.timeout(STEP_LIMIT_MS), ...init });
  }

  /** Waits until the edge redirects `path` to `node`. */
  function redirectsTo(node: FakeNode, timeoutMs: number, path = "/v1/sys/mounts"): Promise<Response> {
    return waitFor(
      async () => {
        const response = await edgeRequest(path);
        return response.status === 307 && response.headers.get("location") === `${node.url}${path}` ? response : null;
      },
      timeoutMs,
      `the edge to redirect to node ${node.name}`,
    );
  }

  /** Waits until the edge answers 503 with an error matching `reason`; returns the body. */
  function unavailable(reason: RegExp, timeoutMs: number): Promise<{ errors: string[] }> {
    return waitFor(
      async () => {
        const response = await edgeRequest("/v1/sys/mounts");
        if (response.status !== 503) return null;
        expect(response.headers.get("retry-after")).toBe("1");
        const body = (await response.json()) as { errors: string[] };
        return reason.test(body.errors[0] ?? "") ? body : null;
      },
      timeoutMs,
      `a 503 matching ${reason}`,
    );
  }

  it("answers 503 with Retry-After, an empty sys/leader and a failing sys/health while no node holds the lock", async () => {
    const response = await edgeRequest("/v1/secret/data/app");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.json()).toEqual({ errors: [expect.stringMatching(/no node has taken the HA lock/)] });

    const leader = await edgeRequest("/v1/sys/leader");
    expect(leader.status).toBe(200);
    expect(await leader.json()).toMatchObject({ ha_enabled: true, is_self: false, leader_address: "" });
    expect((await edgeRequest("/v1/sys/health")).status).toBe(503);
    expect((await edgeRequest("/ui/")).status).toBe(404);
  });

  it("redirects every method to the active node with the path and query, and reports it in sys/leader and sys/health", async () => {
    await take(lockValue("node-a", nodeA.url));
    await redirectsTo(nodeA, LEADER_CACHE_MS + SLACK_MS);

    const path = "/v1/secret/data/app?version=2&list=true";
    // Not LIST: workerd answers 501 to methods outside HTTP's registry before the Worker runs;
    // Vault's Go client sends GET with list=true, as here.
    for (const method of ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"]) {
      const response = await edgeRequest(path, { method });
      expect({ method, status: response.status, location: response.headers.get("location") }).toEqual({ method, status: 307, location: `${nodeA.url}${path}` });
      expect(response.headers.get("cache-control")).toBe("no-store");
    }

    expect(await (await edgeRequest("/v1/sys/leader")).json()).toMatchObject({ is_self: false, leader_address: nodeA.url });
    const health = await edgeRequest("/v1/sys/health");
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ initialized: true, sealed: false, standby: false });
  });

  it("keeps the method and body through the 307 for a client that follows it", async () => {
    for (const method of ["PUT", "POST", "PATCH"]) {
      const body = JSON.stringify({ data: { password: `s3cret-${method}` } });
      const response = await fetch(`${edge.url}/v1/secret/data/app?cas=0`, {
        method,
        body,
        headers: { "content-type": "application/json" },
        redirect: "follow",
      });
      expect(await response.json()).toEqual({ node: "a", method, url: "/v1/secret/data/app?cas=0", body });
    }
  });

  it("follows a release and a new holder within the cache time", async () => {
    await Promise.all(holds.map((hold) => hold.release()));
    await unavailable(/released/, LEADER_CACHE_MS + SLACK_MS);
    await take(lockValue("node-b", nodeB.url));
    await redirectsTo(nodeB, LEADER_CACHE_MS + SLACK_MS);
  });

  it("holds a request during a leadership change and redirects it to the node that takes the lock", async () => {
    await Promise.all(holds.map((hold) => hold.release()));
    await take(lockValue("node-a", nodeA.url));
    await redirectsTo(nodeA, LEADER_CACHE_MS + SLACK_MS);
    await Promise.all(holds.map((hold) => hold.release()));
    // sys/leader never waits: once it reports no leader, the edge has seen the release.
    await waitFor(
      async () => {
        const leader = await edgeRequest("/v1/sys/leader");
        return ((await leader.json()) as { leader_address: string }).leader_address === "" ? true : null;
      },
      LEADER_CACHE_MS + SLACK_MS,
      "the edge to see the release",
    );
    const held = edgeRequest("/v1/secret/data/app?version=2");
    await take(lockValue("node-b", nodeB.url));
    const response = await held;
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe(`${nodeB.url}/v1/secret/data/app?version=2`);
  });

  it("presumes a holder that stopped renewing is down, then follows the node that takes over", async () => {
    await Promise.all(holds.map((hold) => hold.release()));
    const { clock, freeze } = freezableClock();
    const hungBackend = await createDynamoDBBackend(options, {}, clock);
    await take(lockValue("node-a", nodeA.url), hungBackend);
    await redirectsTo(nodeA, LEADER_CACHE_MS + SLACK_MS);
    // Renewals go on while the edge keeps reading: the record keeps changing, the holder stays.
    const renewingUntil = Date.now() + HOLDER_TIMEOUT_MS + LEADER_CACHE_MS;
    while (Date.now() < renewingUntil) await redirectsTo(nodeA, 0);

    freeze();
    await unavailable(/stopped renewing/, HOLDER_TIMEOUT_MS + LEADER_CACHE_MS + SLACK_MS);
    // Only now does a standby contend: it takes over a full lease after it first reads the record.
    await take(lockValue("node-b", nodeB.url));
    await redirectsTo(nodeB, LEADER_CACHE_MS + SLACK_MS);
  });

  it("keeps redirecting to the last active while DynamoDB is unreachable, for at most MAX_STALE_MS", async () => {
    await redirectsTo(nodeB, LEADER_CACHE_MS + SLACK_MS);
    proxy.setMode("reset");
    try {
      const cutAt = Date.now();
      await redirectsTo(nodeB, 0);
      await unavailable(/cannot read the HA lock record/, MAX_STALE_MS + SLACK_MS);
      // The last successful read was at most one cache period before the cut.
      expect(Date.now() - cutAt).toBeGreaterThanOrEqual(MAX_STALE_MS - LEADER_CACHE_MS);
      expect(edge.output()).toMatch(/cannot read the HA lock record from DynamoDB/);
    } finally {
      proxy.setMode("pass");
    }
    await redirectsTo(nodeB, LEADER_CACHE_MS + SLACK_MS);
  });

  it("refuses an api_addr that is not a plain http(s) URL, or that is the edge itself", async () => {
    for (const apiAddr of ["javascript:alert(1)", "ftp://10.0.0.1/", "http://user:pass@10.0.0.1:8200", "10.0.0.1:8200"]) {
      await Promise.all(holds.map((hold) => hold.release()));
      await unavailable(/released/, LEADER_CACHE_MS + SLACK_MS);
      await take(lockValue("node-x", apiAddr));
      await unavailable(/advertised address is unusable/, LEADER_CACHE_MS + SLACK_MS);
    }
    expect(edge.output()).toMatch(/value is not \{"id","api_addr"\} with an http\(s\) api_addr/);

    await Promise.all(holds.map((hold) => hold.release()));
    await take(lockValue("node-x", edge.url));
    await unavailable(/edge's own address/, LEADER_CACHE_MS + SLACK_MS);
  });
});
