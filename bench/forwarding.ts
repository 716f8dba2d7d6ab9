import type { Cluster } from "../test/helpers/cluster.js";
import { type LoadResult, medianOf, runLoad } from "./load.js";
import type { MemoryRecorder } from "./memory.js";
import { rssMegabytes, sampleRss } from "./processes.js";
import type { BenchReport } from "./report.js";
import { READ_PATH, prepareReadToken } from "./setup.js";
import { round } from "./stats.js";

export interface LoadPlan {
  connections: number;
  durationSeconds: number;
  /** Runs per target, interleaved (A, B, A, B, …); the report takes each figure's median. */
  rounds: number;
  warmupSeconds: number;
}

/**
 * The same KV v2 read load against the active node directly and through a standby, which forwards
 * every request to the active over the mTLS HTTP/2 cluster channel: the reads carry
 * `X-Vault-Forward: active-node`, since a standby answers reads itself by default (standby reads
 * has its own benchmark).
 */
export async function benchForwarding(cluster: Cluster, plan: LoadPlan, memory: MemoryRecorder): Promise<BenchReport> {
  const active = await cluster.waitForActive();
  const standby = cluster.nodes.find((node) => node !== active)!;
  const token = await prepareReadToken(active, cluster.rootToken);
  const pid = { active: active.process!.child.pid!, standby: standby.process!.child.pid! };
  memory.idle("cluster active (S3 + DynamoDB)", rssMegabytes(pid.active));
  memory.idle("cluster standby", rssMegabytes(pid.standby));

  const load = (port: number) => ({
    url: `http://127.0.0.1:${port}/v1/${READ_PATH}`,
    headers: { "x-vault-token": token, "x-vault-forward": "active-node" },
    connections: plan.connections,
  });
  const direct = load(active.port);
  const forwarded = load(standby.port);
  await runLoad({ ...direct, durationSeconds: plan.warmupSeconds });
  await runLoad({ ...forwarded, durationSeconds: plan.warmupSeconds });

  const runs: { direct: LoadResult[]; forwarded: LoadResult[] } = { direct: [], forwarded: [] };
  const sampler = sampleRss(pid);
  for (let round = 1; round <= plan.rounds; round++) {
    for (const [name, target] of [
      ["direct", direct],
      ["forwarded", forwarded],
    ] as const) {
      const result = await runLoad({ ...target, durationSeconds: plan.durationSeconds });
      process.stderr.write(`  forwarding ${name} #${round}: ${result.requestsPerSecond} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms\n`);
      runs[name].push(result);
    }
  }
  const peaks = sampler.stop();
  memory.loaded("cluster active (S3 + DynamoDB)", peaks.active!, "KV v2 reads, direct and forwarded");
  memory.loaded("cluster standby", peaks.standby!, "KV v2 reads forwarded");

  const stillActive = await cluster.waitForActive();
  if (stillActive !== active) throw new Error("the active node changed during the forwarding benchmark; its figures mix two actives");
  const d = medianOf(runs.direct);
  const f = medianOf(runs.forwarded);
  if (d.failures + f.failures > 0) throw new Error(`non-2xx answers or errors under load: direct ${d.failures}, forwarded ${f.failures}`);
  const ratio = (a: number, b: number) => round(a / b, 2);
  const p50Ratio = ratio(f.p50, d.p50);
  const p99Ratio = ratio(f.p99, d.p99);
  const throughputRatio = ratio(f.requestsPerSecond, d.requestsPerSecond);
  const met = (ok: boolean) => (ok ? "yes" : "**no**");
  return {
    name: "forwarding",
    title: "Forwarding overhead: KV v2 reads against the active directly vs. through a standby (mTLS HTTP/2)",
    columns: ["target", "req/s", "p50 (ms)", "p99 (ms)", "mean (ms)"],
    rows: [
      ["active, direct", d.requestsPerSecond, d.p50, d.p99, d.mean],
      ["standby, forwarded", f.requestsPerSecond, f.p50, f.p99, f.mean],
      ["forwarded ÷ direct", throughputRatio, p50Ratio, p99Ratio, ratio(f.mean, d.mean)],
      ["target", "≥ 0.75", "≤ 1.3", "≤ 1.3", ""],
      ["met", met(throughputRatio >= 0.75), met(p50Ratio <= 1.3), met(p99Ratio <= 1.3), ""],
    ],
    notes: [
      `autocannon, ${plan.connections} connections, ${plan.durationSeconds} s per run, ${plan.rounds} runs per target interleaved (direct, forwarded, …) after a ${plan.warmupSeconds} s warm-up each; medians.`,
      "Each read: a policy-bound token (token lookup + ACL) reading one KV v2 secret; data in the S3 stand-in, so every read costs the active several S3 GETs.",
      "Every read carries X-Vault-Forward: active-node, so the standby forwards it (by default a standby answers reads itself; see the standby-reads benchmark).",
      "Latencies come from every response's own timing (sub-millisecond), not autocannon's whole-millisecond histogram.",
      "All processes share the machine's cores: forwarded, the standby's work competes with the active's for CPU, which separate hosts would not.",
    ],
    data: { plan, direct: runs.direct, forwarded: runs.forwarded, medians: { direct: d, forwarded: f } },
  };
}
