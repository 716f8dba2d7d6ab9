import { startCluster } from "../test/helpers/cluster.js";
import { startCountingProxy } from "../test/helpers/counting-proxy.js";
import type { LoadPlan } from "./forwarding.js";
import { type LoadResult, medianOf, runLoad } from "./load.js";
import type { BenchReport } from "./report.js";
import { READ_PATH, mountKvV2, prepareGroupReadToken, prepareReadToken } from "./setup.js";
import { round } from "./stats.js";

/** Injected per-request latency, as in-region from ECS; override with BENCH_S3_LATENCY_MS / BENCH_DYNAMODB_LATENCY_MS. */
const S3_LATENCY_MS = Number(process.env.BENCH_S3_LATENCY_MS ?? 15);
const DYNAMODB_LATENCY_MS = Number(process.env.BENCH_DYNAMODB_LATENCY_MS ?? 5);

interface Stores {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  s3Bucket: string;
}

/**
 * KV v2 reads on a one-node cluster whose storage answers with real-world latency (a counting
 * proxy in front of the S3 stand-in and of DynamoDB Local), with the storage cache on and with
 * `disable_cache = true`: latency, throughput, and storage requests per read counted at the proxy.
 */
export async function benchCache(stores: Stores, plan: LoadPlan): Promise<BenchReport> {
  const s3 = await startCountingProxy(stores.s3Endpoint, { latencyMs: S3_LATENCY_MS });
  const dynamodb = await startCountingProxy(stores.dynamodbEndpoint, { latencyMs: DYNAMODB_LATENCY_MS });
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown> = {};
  try {
    for (const storage of ["s3", "dynamodb"] as const) {
      const proxy = storage === "s3" ? s3 : dynamodb;
      const latency = storage === "s3" ? S3_LATENCY_MS : DYNAMODB_LATENCY_MS;
      for (const disabled of [false, true]) {
        const cluster = await startCluster(
          { dynamodbEndpoint: dynamodb.endpoint, s3Endpoint: s3.endpoint, s3Bucket: stores.s3Bucket },
          { size: 1, storage, extraConfig: disabled ? "disable_cache = true\n" : "" },
        );
        try {
          const node = await cluster.waitForActive();
          await mountKvV2(node, cluster.rootToken);
          const token = await prepareReadToken(node, cluster.rootToken);
          // One more row: the read policy comes from an identity group, not the token (S3, cache on).
          const tokens: [string, string][] = [["", token]];
          if (storage === "s3" && !disabled) tokens.push([", policy from an identity group", await prepareGroupReadToken(node, cluster.rootToken)]);
          for (const [variant, readToken] of tokens) {
            const target = { url: `http://127.0.0.1:${node.port}/v1/${READ_PATH}`, headers: { "x-vault-token": readToken }, connections: plan.connections };
            await runLoad({ ...target, durationSeconds: plan.warmupSeconds });
            const runs: LoadResult[] = [];
            let storageRequests = 0;
            for (let round = 0; round < plan.rounds; round++) {
              const before = proxy.total();
              runs.push(await runLoad({ ...target, durationSeconds: plan.durationSeconds }));
              storageRequests += proxy.total() - before;
            }
            const result = medianOf(runs);
            if (result.failures > 0) throw new Error(`non-2xx answers or errors under load: ${result.failures}`);
            const perRead = round(storageRequests / result.requests, 3);
            const name = `${storage} (${latency} ms per request), cache ${disabled ? "off (disable_cache = true)" : "on"}${variant}`;
            process.stderr.write(`  cache: ${name}: ${result.requestsPerSecond} req/s, p50 ${result.p50} ms, ${perRead} storage requests per read\n`);
            rows.push([name, result.requestsPerSecond, result.p50, result.p99, perRead]);
            data[name] = { runs, storageRequests };
          }
        } finally {
          await cluster.stop();
        }
      }
    }
  } finally {
    await Promise.all([s3.close(), dynamodb.close()]);
  }
  return {
    name: "cache",
    title: "Storage cache: warm KV v2 reads on one node with real-world storage latency",
    columns: ["storage, cache", "req/s", "p50 (ms)", "p99 (ms)", "storage requests per read"],
    rows,
    notes: [
      `autocannon, ${plan.connections} connections, ${plan.durationSeconds} s per run, ${plan.rounds} runs after a ${plan.warmupSeconds} s warm-up; medians. One real server process (HA on: the lock in DynamoDB Local; data in the S3 stand-in, or data and lock in one DynamoDB table).`,
      `Latency is injected by a counting HTTP proxy (in the benchmark's own process) in front of each store: ${S3_LATENCY_MS} ms per S3 request, ${DYNAMODB_LATENCY_MS} ms per DynamoDB request (BENCH_S3_LATENCY_MS, BENCH_DYNAMODB_LATENCY_MS). Storage requests per read are counted there over the measured runs; on DynamoDB they include the lock renewals (about 3 per second).`,
      "Each read uses a policy-bound token: token entry, its parent, KV metadata and version; targets: warm p50 ≤ 2 ms with 15 ms S3 latency, ≈ 0 storage requests per warm read.",
      "The \"policy from an identity group\" row reads with a userpass login's token carrying only default; the read policy is its entity's group's (identity/): target ≈ 0 storage requests per warm read too.",
    ],
    data,
  };
}
