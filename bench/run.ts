/**
 * `npm run bench [-- NAME… ] [-- --quick]`: runs the benchmarks (all by default: failover (the
 * lock in DynamoDB, etcd and ZooKeeper, under the old and the candidate HA timings), handover, forwarding, standby-reads, efficiency, memory, edge, cache, transit; `cache` also runs efficiency), prints each table and writes bench/results/<name>.json and
 * bench/results/latest.md. `--quick` shortens every run, for trying the benchmarks out only.
 * The soaks run only when named: `soak` (default lock timings), `soak-fast` (the ≤ 1 s failover
 * candidate) and `soak-long` (twice the default lease), 10 minutes each; `SOAK_SECONDS=N` (or
 * `--quick`: 60 s) shortens them.
 */
import { startCluster } from "../test/helpers/cluster.js";
import { type RunningDynamoDBLocal, startDynamoDBLocal } from "../test/helpers/dynamodb-local.js";
import { benchCache } from "./cache.js";
import { benchEdge } from "./edge.js";
import { benchEfficiency } from "./efficiency.js";
import { benchFailover } from "./failover.js";
import { benchForwarding, type LoadPlan } from "./forwarding.js";
import { benchHandover, type HandoverPlan } from "./handover.js";
import { MemoryRecorder } from "./memory.js";
import { startTsChild, type TsChild } from "./processes.js";
import { BENCH_ORDER as ORDER, type BenchReport, describeMachine, formatReport, ON_REQUEST_ONLY, writeResults } from "./report.js";
import { mountKvV2 } from "./setup.js";
import { benchSoak } from "./soak.js";
import { benchStandbyReads } from "./standby-reads.js";
import { benchTransit } from "./transit.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const unknown = args.filter((arg) => arg !== "--quick" && !ORDER.includes(arg));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(", ")}; choose from ${ORDER.join(", ")} (and --quick)\n`);
  process.exit(2);
}
const selected = new Set(args.filter((arg) => ORDER.includes(arg)));
const wanted = (name: string) =>
  (selected.size === 0 && !ON_REQUEST_ONLY.includes(name)) ||
  selected.has(name) ||
  (name === "memory" && (selected.has("forwarding") || selected.has("efficiency"))) ||
  (name === "efficiency" && selected.has("cache"));

const plan: LoadPlan = quick
  ? { connections: 10, durationSeconds: 3, rounds: 1, warmupSeconds: 1 }
  : { connections: 10, durationSeconds: 10, rounds: 3, warmupSeconds: 3 };
const failoverTrials = quick ? 2 : 10;
const soakSeconds = Number(process.env.SOAK_SECONDS ?? (quick ? 60 : 600));
const handoverPlan: HandoverPlan = quick ? { stepDowns: 2, sigterms: 1, rollingRestarts: 1 } : { stepDowns: 5, sigterms: 3, rollingRestarts: 2 };

const machine = describeMachine();
process.stderr.write(`benchmarks on ${machine.nproc} × ${machine.cpu}, Node ${machine.node}, load average ${machine.loadAverageStart.join(" / ")}\n`);

const reports: BenchReport[] = [];
const memory = new MemoryRecorder();
let dynamodb: RunningDynamoDBLocal | null = null;
let s3: TsChild<{ endpoint: string; bucket: string }> | null = null;
try {
  if (["failover", "handover", "forwarding", "standby-reads", "edge", "cache", "soak", "soak-fast", "soak-long"].some(wanted)) {
    dynamodb = await startDynamoDBLocal();
  }
  if (dynamodb) s3 = await startTsChild<{ endpoint: string; bucket: string }>("./s3-process.ts");
  if (wanted("failover")) {
    reports.push(await benchFailover({ dynamodbEndpoint: dynamodb!.endpoint, s3Endpoint: s3!.info.endpoint, s3Bucket: s3!.info.bucket }, failoverTrials));
  }
  if (wanted("handover") || wanted("forwarding") || wanted("edge")) {
    const cluster = await startCluster({ dynamodbEndpoint: dynamodb!.endpoint, s3Endpoint: s3!.info.endpoint, s3Bucket: s3!.info.bucket }, { size: 3 });
    try {
      const active = await cluster.waitForActive();
      await mountKvV2(active, cluster.rootToken);
      if (wanted("handover")) reports.push(await benchHandover(cluster, handoverPlan));
      if (wanted("forwarding")) reports.push(await benchForwarding(cluster, plan, memory));
      if (wanted("edge")) reports.push(await benchEdge(cluster, dynamodb!.endpoint, quick));
    } finally {
      await cluster.stop();
    }
  }
  if (wanted("standby-reads")) {
    const stores = { dynamodbEndpoint: dynamodb!.endpoint, s3Endpoint: s3!.info.endpoint, s3Bucket: s3!.info.bucket };
    const cluster = await startCluster(stores, { size: 3 });
    try {
      await mountKvV2(await cluster.waitForActive(), cluster.rootToken);
      reports.push(await benchStandbyReads(cluster, plan));
    } finally {
      await cluster.stop();
    }
  }
  for (const timings of ["default", "fast", "long"] as const) {
    if (!wanted(timings === "default" ? "soak" : `soak-${timings}`)) continue;
    const stores = { dynamodbEndpoint: dynamodb!.endpoint, s3Endpoint: s3!.info.endpoint, s3Bucket: s3!.info.bucket };
    reports.push(await benchSoak(stores, timings, soakSeconds));
  }
  if (wanted("cache")) reports.push(await benchCache({ dynamodbEndpoint: dynamodb!.endpoint, s3Endpoint: s3!.info.endpoint, s3Bucket: s3!.info.bucket }, plan));
  if (wanted("efficiency")) reports.push(await benchEfficiency(plan, memory));
  if (wanted("transit")) reports.push(await benchTransit(plan));
  if (memory.samples.length > 0) reports.push(memory.report());
} finally {
  await s3?.stop();
  await dynamodb?.stop();
}

machine.loadAverageEnd = describeMachine().loadAverageStart;
writeResults(reports, machine, ORDER);
for (const report of reports) process.stdout.write(`\n${formatReport(report)}`);
process.stdout.write(`\nload average at the end: ${machine.loadAverageEnd.join(" / ")}; tables written to bench/results/latest.md\n`);
