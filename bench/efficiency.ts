import { randomUUID } from "node:crypto";
import { startServerProcess } from "../test/helpers/server-process.js";
import type { LoadPlan } from "./forwarding.js";
import { type LoadResult, medianOf, runLoad } from "./load.js";
import type { MemoryRecorder } from "./memory.js";
import { cpuMicroseconds, rssMegabytes, sampleRss, startTsChild } from "./processes.js";
import type { BenchReport } from "./report.js";
import { READ_PATH, prepareReadToken } from "./setup.js";
import { median, round } from "./stats.js";

const TARGET_RATIO = 0.5;

/**
 * KV v2 reads on one `server -dev` node (in-memory storage) against a bare Hono hello-world served
 * the same way (same @hono/node-server and listener wrapper, one process): how much of what the
 * HTTP stack could serve the server keeps once it does its real work.
 */
export async function benchEfficiency(plan: LoadPlan, memory: MemoryRecorder): Promise<BenchReport> {
  const rootToken = `bench-root-${randomUUID()}`;
  const dev = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${rootToken}`]);
  const hello = await startTsChild<{ address: string }>("./hello-server.ts");
  try {
    const devPort = Number(new URL(dev.apiAddr).port);
    const token = await prepareReadToken({ port: devPort }, rootToken);
    memory.idle("dev node (inmem)", rssMegabytes(dev.child.pid!));
    const kv = { url: `http://127.0.0.1:${devPort}/v1/${READ_PATH}`, headers: { "x-vault-token": token }, connections: plan.connections };
    const bare = { url: `http://${hello.info.address}/`, connections: plan.connections };
    await runLoad({ ...kv, durationSeconds: plan.warmupSeconds });
    await runLoad({ ...bare, durationSeconds: plan.warmupSeconds });

    const runs: { kv: LoadResult[]; bare: LoadResult[] } = { kv: [], bare: [] };
    const cpuPerRequest: { kv: number[]; bare: number[] } = { kv: [], bare: [] };
    /** One run, and how much CPU the server process spent per answer during it. */
    const measure = async (name: "kv" | "bare", target: typeof kv | typeof bare, pid: number) => {
      const cpuBefore = cpuMicroseconds(pid);
      const result = await runLoad({ ...target, durationSeconds: plan.durationSeconds });
      runs[name].push(result);
      cpuPerRequest[name].push((cpuMicroseconds(pid) - cpuBefore) / result.requests);
    };
    let peakRss = 0;
    for (let round = 1; round <= plan.rounds; round++) {
      const sampler = sampleRss({ dev: dev.child.pid! });
      await measure("kv", kv, dev.child.pid!);
      peakRss = Math.max(peakRss, sampler.stop().dev!);
      await measure("bare", bare, hello.child.pid!);
      process.stderr.write(`  efficiency #${round}: KV ${runs.kv.at(-1)!.requestsPerSecond} req/s, hello ${runs.bare.at(-1)!.requestsPerSecond} req/s\n`);
    }
    memory.loaded("dev node (inmem)", peakRss, "KV v2 reads");
    const k = medianOf(runs.kv);
    const b = medianOf(runs.bare);
    const kvCpu = round(median(cpuPerRequest.kv), 0);
    const bareCpu = round(median(cpuPerRequest.bare), 0);
    if (k.failures + b.failures > 0) throw new Error(`non-2xx answers or errors under load: KV ${k.failures}, hello ${b.failures}`);
    const ratio = round(k.requestsPerSecond / b.requestsPerSecond, 2);
    return {
      name: "efficiency",
      title: "Stack efficiency: KV v2 reads on one dev node (inmem) vs. a bare Hono hello-world on the same listener",
      columns: ["server", "req/s", "p50 (ms)", "p99 (ms)", "server CPU per answer (µs)"],
      rows: [
        ["strongbox server -dev, KV v2 read", k.requestsPerSecond, k.p50, k.p99, kvCpu],
        ["Hono hello-world, startApiListener", b.requestsPerSecond, b.p50, b.p99, bareCpu],
        ["KV ÷ hello-world (target ≥ 0.5)", ratio, "", "", ""],
        ["met", ratio >= TARGET_RATIO ? "yes" : "**no**", "", "", ""],
      ],
      notes: [
        `autocannon, ${plan.connections} connections, ${plan.durationSeconds} s per run, ${plan.rounds} runs each interleaved after a ${plan.warmupSeconds} s warm-up; medians. Each server is one Node process.`,
        "The KV read uses a policy-bound token: token lookup (token entry and its parent), ACL, KV metadata and version. Once warm, the storage cache, the barrier's decrypt memo and the decoded-entry memo answer all four reads: no WebCrypto call, no JSON parse.",
        "Server CPU per answer: the server process's user + system time during the runs (its crypto thread pool included) ÷ answers; the medians of the runs.",
      ],
      data: { plan, kv: runs.kv, hello: runs.bare, cpuPerRequest, medians: { kv: k, hello: b } },
    };
  } finally {
    await Promise.all([dev.stop(), hello.stop()]);
  }
}
