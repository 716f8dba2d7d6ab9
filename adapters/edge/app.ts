/**
 * The edge's HTTP surface. It holds no secrets of the cluster (no tokens, unseal or barrier keys)
 * and only ever redirects to an `api_addr` read from the lock record:
 * - `GET /v1/sys/leader`: Vault's shape from the lock record (`is_self` is always false);
 * - `GET /v1/sys/health`: 200 with an active node's status while one is known, else 503;
 * - any other `/v1/*` request, any method: 307 to the active's `api_addr` + path + query (307 keeps
 *   the method and body), or 503 `{"errors":[…]}` with `Retry-After` when no active is known —
 *   during a leadership change only after re-reading the record for up to `LEADER_WAIT_MS`;
 * - anything else: 404.
 */
import { Hono } from "hono";
import { healthBody, leaderBody, NEVER_ACTIVE, sameHostAndPort } from "../../src/http/vault-shapes.js";
import { type EdgeEnv, EdgeConfigError, readEdgeConfig } from "./config.js";
import { type Leader, LeaderTracker } from "./leader.js";
import { dynamoDBLockRecordReader } from "./lock-record.js";

const NO_STORE = { "cache-control": "no-store" };

export function createEdgeApp(): Hono<{ Bindings: EdgeEnv }> {
  // Built on the first request, when the bindings are known; lives as long as the isolate.
  let tracker: { leader: LeaderTracker; waitMs: number } | undefined;
  /** `wait`: a request to redirect waits out a leadership change; status endpoints answer at once. */
  const leaderFor = (env: EdgeEnv, wait = false): Promise<Leader> => {
    if (!tracker) {
      const config = readEdgeConfig(env);
      tracker = { leader: new LeaderTracker(dynamoDBLockRecordReader(config), config), waitMs: config.leaderWaitMs };
    }
    return wait ? tracker.leader.settled(tracker.waitMs) : tracker.leader.current();
  };

  const app = new Hono<{ Bindings: EdgeEnv }>();

  app.get("/v1/sys/leader", async (c) => {
    const leader = await leaderFor(c.env);
    return c.json(
      leaderBody({
        haEnabled: true,
        isSelf: false,
        activeTime: NEVER_ACTIVE,
        leaderAddress: leader.active ? leader.apiAddr.origin : "",
        leaderClusterAddress: "",
        performanceStandby: false,
      }),
      200,
      NO_STORE,
    );
  });

  app.get("/v1/sys/health", async (c) => {
    const leader = await leaderFor(c.env);
    if (!leader.active) return unavailable(leader.reason);
    // A node holds the lock only while unsealed (sealed nodes never contend), hence initialized.
    return c.json(healthBody({ initialized: true, sealed: false, standby: false, performanceStandby: false, clusterId: "" }), 200, NO_STORE);
  });

  app.all("/v1/*", async (c) => {
    const leader = await leaderFor(c.env, true);
    if (!leader.active) return unavailable(leader.reason);
    const url = new URL(c.req.url);
    const target = leader.apiAddr;
    if (sameHostAndPort(url, target)) {
      console.error(`strongbox edge: the active node's api_addr ${target.origin} is this Worker's own address; not redirecting`);
      return unavailable(
        `the active node's api_addr (${target.origin}) is the edge's own address, so redirecting would loop; ` + "give each node its own api_addr",
      );
    }
    return new Response(null, { status: 307, headers: { location: `${target.origin}${url.pathname}${url.search}`, ...NO_STORE } });
  });

  app.notFound(() => errorJson(404, []));

  app.onError((error) => {
    if (error instanceof EdgeConfigError) {
      console.error(`strongbox edge: configuration error: ${error.message}`);
      return errorJson(500, ["the edge is misconfigured; see its logs"]);
    }
    console.error(`strongbox edge: ${error.stack ?? String(error)}`);
    return errorJson(500, ["internal error"]);
  });

  return app;
}

function unavailable(reason: string): Response {
  const response = errorJson(503, [reason]);
  response.headers.set("retry-after", "1");
  return response;
}

function errorJson(status: number, errors: string[]): Response {
  return new Response(JSON.stringify({ errors }), { status, headers: { "content-type": "application/json", ...NO_STORE } });
}
