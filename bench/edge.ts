import { Agent, request } from "node:http";
import type { Cluster } from "../test/helpers/cluster.js";
import { startWranglerDev } from "../test/helpers/wrangler-dev.js";
import type { BenchReport } from "./report.js";
import { percentile, round } from "./stats.js";

const TARGET_P50_MS = 2;

interface Timing {
  p50: number;
  p99: number;
  mean: number;
}

/**
 * `count` rounds of requests one after another on one keep-alive connection, each round asking
 * every target once (so slow moments of a busy machine hit all targets alike); every answer must
 * have its target's status.
 */
async function timeRequests(targets: { url: string; status: number }[], count: number, warmup: number): Promise<Timing[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = ({ url, status }: { url: string; status: number }) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const req = request(url, { agent }, (response) => {
        response.resume();
        response.on("end", () => {
          if (response.statusCode !== status) reject(new Error(`${url} answered ${response.statusCode}, expected ${status}`));
          else resolve(performance.now() - started);
        });
      });
      req.on("error", reject);
      req.end();
    });
  try {
    for (let i = 0; i < warmup; i++) for (const target of targets) await once(target);
    const times: number[][] = targets.map(() => []);
    for (let i = 0; i < count; i++) for (const [index, target] of targets.entries()) times[index]!.push(await once(target));
    return times.map((sample) => ({
      p50: round(percentile(sample, 50), 3),
      p99: round(percentile(sample, 99), 3),
      mean: round(sample.reduce((sum, t) => sum + t, 0) / sample.length, 3),
    }));
  } finally {
    agent.destroy();
  }
}

/**
 * The edge Worker in the local Workers runtime (`wrangler dev`, real workerd) reading the cluster's
 * real lock record from DynamoDB Local: its 307 with a cached leader, the same with every request
 * reading DynamoDB (LEADER_CACHE_MS=0), and the Worker's 404 (no leader look-up) as the floor of
 * the runtime and its local proxy.
 */
export async function benchEdge(cluster: Cluster, dynamodbEndpoint: string, quick: boolean): Promise<BenchReport> {
  const count = quick ? 200 : 2_000;
  const warmup = quick ? 50 : 200;
  const vars = {
    AWS_DYNAMODB_TABLE: cluster.table,
    AWS_DYNAMODB_ENDPOINT: dynamodbEndpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
  const measure = async (leaderCacheMs: number) => {
    const edge = await startWranglerDev({ ...vars, LEADER_CACHE_MS: String(leaderCacheMs) });
    try {
      const [floor, redirect] = await timeRequests(
        [
          { url: `${edge.url}/`, status: 404 },
          { url: `${edge.url}/v1/secret/data/bench`, status: 307 },
        ],
        count,
        warmup,
      );
      return { floor: floor!, redirect: redirect! };
    } finally {
      await edge.stop();
    }
  };
  const cached = await measure(1_000);
  const uncached = await measure(0);
  const lookupCost = round(uncached.redirect.p50 - cached.redirect.p50, 3);
  const row = (name: string, t: Timing) => [name, t.p50, t.p99, t.mean];
  return {
    name: "edge",
    title: "Edge Worker (wrangler dev, local workerd): latency of its answers",
    columns: ["request", "p50 (ms)", "p99 (ms)", "mean (ms)"],
    rows: [
      row("404 (no leader look-up: the runtime's floor)", cached.floor),
      row("307 to the active, leader cached (LEADER_CACHE_MS=1000)", cached.redirect),
      row("307 to the active, DynamoDB GetItem on every request (LEADER_CACHE_MS=0)", uncached.redirect),
      ["307 cached: p50 (target ≤ 2 ms)", cached.redirect.p50, cached.redirect.p50 <= TARGET_P50_MS ? "met" : "**not met**", ""],
      ["307 cached minus the 404 floor (our code's share)", round(cached.redirect.p50 - cached.floor.p50, 3), "", ""],
      ["DynamoDB look-up on a cache miss (p50 difference)", lookupCost, "", ""],
    ],
    notes: [
      `${count} requests per row, one at a time on one keep-alive connection, the 404 and the 307 alternating, after ${warmup} warm-up rounds; timed by the client, so each figure is the whole loopback round trip through wrangler's local proxy and workerd.`,
      "A cache miss here reads DynamoDB Local on loopback; against real DynamoDB add the network round trip from the edge location to the table's region.",
    ],
    data: { count, warmup, cached, uncached },
  };
}
