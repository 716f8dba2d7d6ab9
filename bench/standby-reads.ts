import type { Cluster, ClusterNode } from "../test/helpers/cluster.js";
import type { LoadPlan } from "./forwarding.js";
import { type LoadOptions, type LoadResult, medianOf, runLoads, warmUp } from "./load.js";
import { cpuMicroseconds } from "./processes.js";
import type { BenchReport } from "./report.js";
import { READ_PATH, prepareReadToken } from "./setup.js";
import { median, round } from "./stats.js";

type Mode = "active alone" | "spread, forwarded" | "spread, standby reads";
const MODES: Mode[] = ["active alone", "spread, forwarded", "spread, standby reads"];

/**
 * The same KV v2 read load (same total connections) three ways on a default cluster (standby
 * reads on): all to the active; spread over the three nodes with
 * `X-Vault-Forward: active-node` (standbys forward every read, as without standby reads); spread
 * with standbys answering themselves. Also the active's CPU time per 1000 reads of the cluster.
 */
export async function benchStandbyReads(cluster: Cluster, plan: LoadPlan): Promise<BenchReport> {
  const active = await cluster.waitForActive();
  const token = await prepareReadToken(active, cluster.rootToken);
  const perNode = Math.max(1, Math.round(plan.connections / cluster.nodes.length));
  const total = perNode * cluster.nodes.length;
  const target = (node: ClusterNode, connections: number, headers: Record<string, string> = {}): Omit<LoadOptions, "durationSeconds"> => ({
    url: `http://127.0.0.1:${node.port}/v1/${READ_PATH}`,
    headers: { "x-vault-token": token, ...headers },
    connections,
  });
  const loads: Record<Mode, Omit<LoadOptions, "durationSeconds">[]> = {
    "active alone": [target(active, total)],
    "spread, forwarded": cluster.nodes.map((node) => target(node, perNode, { "x-vault-forward": "active-node" })),
    "spread, standby reads": cluster.nodes.map((node) => target(node, perNode)),
  };
  const run = (mode: Mode, durationSeconds: number) => runLoads(loads[mode].map((load) => ({ ...load, durationSeconds })));
  for (const mode of MODES) await warmUp(loads[mode].map((load) => ({ ...load, durationSeconds: plan.warmupSeconds })));

  const activePid = active.process!.child.pid!;
  const runs: Record<Mode, Array<LoadResult & { activeCpuMsPer1000: number }>> = { "active alone": [], "spread, forwarded": [], "spread, standby reads": [] };
  /** The load generator's own CPU (this process), to show what it takes from the machine. */
  const generatorCpu = { microseconds: 0, requests: 0 };
  for (let pass = 1; pass <= plan.rounds; pass++) {
    for (const mode of MODES) {
      const cpuBefore = cpuMicroseconds(activePid);
      const ownBefore = process.cpuUsage();
      const result = await run(mode, plan.durationSeconds);
      const own = process.cpuUsage(ownBefore);
      generatorCpu.microseconds += own.user + own.system;
      generatorCpu.requests += result.requests;
      const activeCpuMsPer1000 = round((cpuMicroseconds(activePid) - cpuBefore) / 1000 / (result.requests / 1000), 1);
      process.stderr.write(
        `  standby reads, ${mode} #${pass}: ${result.requestsPerSecond} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, active CPU ${activeCpuMsPer1000} ms per 1000 reads\n`,
      );
      runs[mode].push({ ...result, activeCpuMsPer1000 });
    }
  }
  if ((await cluster.waitForActive()) !== active) throw new Error("the active node changed during the standby-reads benchmark; its figures mix two actives");

  const medians = Object.fromEntries(
    MODES.map((mode) => [mode, { ...medianOf(runs[mode]), activeCpuMsPer1000: median(runs[mode].map((r) => r.activeCpuMsPer1000)) }]),
  ) as Record<Mode, LoadResult & { activeCpuMsPer1000: number }>;
  const failures = MODES.reduce((sum, mode) => sum + medians[mode].failures, 0);
  if (failures > 0) throw new Error(`non-2xx answers or errors under load: ${failures}`);
  const alone = medians["active alone"];
  const forwarded = medians["spread, forwarded"];
  const local = medians["spread, standby reads"];
  const cpuRatio = round(forwarded.activeCpuMsPer1000 / local.activeCpuMsPer1000, 2);
  // Closed-loop clients: a node that answers faster gets more of the reads.
  const activeIndex = cluster.nodes.indexOf(active);
  const activeShare = round((100 * local.perTarget[activeIndex]!) / local.perTarget.reduce((sum, n) => sum + n, 0), 1);
  const throughputRatio = round(local.requestsPerSecond / alone.requestsPerSecond, 2);
  const met = (ok: boolean) => (ok ? "yes" : "**no**");
  return {
    name: "standby-reads",
    title: "Standby reads: KV v2 reads spread over three nodes, answered by standbys vs. forwarded to the active",
    columns: ["load", "req/s", "p50 (ms)", "p99 (ms)", "active CPU ms / 1000 reads"],
    rows: [
      ...MODES.map((mode) => [mode, medians[mode].requestsPerSecond, medians[mode].p50, medians[mode].p99, medians[mode].activeCpuMsPer1000]),
      ["active CPU: forwarded ÷ standby reads", "", "", "", cpuRatio],
      ["throughput: standby reads ÷ active alone", throughputRatio, "", "", ""],
      ["target", "≥ 1.5", "", "", "≥ 3"],
      ["met", met(throughputRatio >= 1.5), "", "", met(cpuRatio >= 3)],
    ],
    notes: [
      `autocannon (in this process: ${round(generatorCpu.microseconds / generatorCpu.requests, 1)} µs of CPU per request in this run, which the spread loads take from the nodes since they need both cores), ${total} connections in all (${perNode} per node when spread), ${plan.durationSeconds} s per run, ${plan.rounds} runs per load interleaved after a ${plan.warmupSeconds} s warm-up each; medians.`,
      'Each read: a policy-bound token reading one KV v2 secret. Data in the S3 stand-in, lock in DynamoDB Local, all on this machine. A default cluster (standby reads on); "spread, forwarded" sends X-Vault-Forward: active-node, what every read costs with standby_reads = false.',
      "A standby keeps what it read while the active's write generation, learnt through its read lease (pushed by the active before each write is acknowledged), stays the same; the active serves from its read cache.",
      "All processes (three nodes, the storage stand-ins, the load generator) share the machine's cores, so spreading reads adds no CPU here as separate hosts would.",
      `With standby reads, the active answered ${activeShare} % of the spread reads (equal connections per node; closed-loop clients give a faster node more).`,
    ],
    data: { plan, runs, medians },
  };
}
