/**
 * `npm run chaos [-- --rounds N] [--bound-ms MS] [--minutes M] [--scenarios a,b] [--history FILE]`:
 * runs every chaos scenario (test/chaos/scenarios.ts) for N rounds (default 20) on fresh 3-node
 * clusters, prints the table and writes bench/results/chaos-<date>.json and
 * bench/results/chaos-latest.md (--history: also every operation and active term). Stays within
 * --minutes (default 15): each scenario gets an equal share of the time left and stops starting
 * rounds when its share is used. Exits 1 on any lost write, stale read, dual active, slow recovery
 * or error.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { startDynamoDBLocal } from "../../test/helpers/dynamodb-local.js";
import { startEtcd } from "../../test/helpers/etcd-server.js";
import { startZooKeeper } from "../../test/helpers/zookeeper-server.js";
import { startS3Server } from "../../test/helpers/s3-server.js";
import { resultTable } from "../../test/chaos/report.js";
import { defaultChaosOptions, runScenario, type ScenarioResult } from "../../test/chaos/run.js";
import { scenarios } from "../../test/chaos/scenarios.js";

const RESULTS_DIR = new URL("../results/", import.meta.url);
/** Kept back from --minutes for starting and stopping the stores and clusters. */
const OVERHEAD_MS = 45_000;

function option(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const at = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (at === -1) return fallback;
  return args[at]!.includes("=") ? args[at]!.slice(args[at]!.indexOf("=") + 1) : (args[at + 1] ?? fallback);
}

const rounds = Number(option("rounds", String(defaultChaosOptions.rounds)));
const boundMs = Number(option("bound-ms", String(defaultChaosOptions.boundMs)));
const minutes = Number(option("minutes", "15"));
const historyFile = option("history", "");
const names = option("scenarios", scenarios.map((s) => s.name).join(",")).split(",");
const selected = names.map((name) => scenarios.find((s) => s.name === name));
if (![rounds, boundMs, minutes].every((n) => Number.isFinite(n) && n > 0) || selected.includes(undefined)) {
  process.stderr.write(`usage: npm run chaos -- [--rounds N] [--bound-ms MS] [--minutes M] [--scenarios ${scenarios.map((s) => s.name).join(",")}]\n`);
  process.exit(2);
}

const started = performance.now();
const deadline = started + minutes * 60_000 - OVERHEAD_MS;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const needs = (storage: string) => selected.some((scenario) => scenario!.storage === storage);
const [dynamodb, s3, etcd, zookeeper] = await Promise.all([
  startDynamoDBLocal(),
  startS3Server(),
  needs("etcd") ? startEtcd() : null,
  needs("zookeeper") ? startZooKeeper() : null,
]);
const stores = {
  dynamodbEndpoint: dynamodb.endpoint,
  s3Endpoint: s3.endpoint,
  s3Bucket: s3.bucket,
  etcdEndpoint: etcd?.endpoint,
  zookeeperAddress: zookeeper?.address,
};
const results: ScenarioResult[] = [];
try {
  for (const [i, scenario] of selected.entries()) {
    const share = (deadline - performance.now()) / (selected.length - i);
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const result = await runScenario(stores, scenario!, { ...defaultChaosOptions, rounds, boundMs, deadline: performance.now() + share, log });
    results.push(result);
    for (const problem of [...result.violations, ...result.errors]) log(`[${result.scenario}] ${problem}`);
  }
} finally {
  await Promise.all([dynamodb.stop(), s3.stop(), etcd?.stop(), zookeeper?.stop()]);
}

const table = resultTable(results, boundMs);
const date = new Date().toISOString();
const command = `npm run chaos -- ${process.argv.slice(2).join(" ")}`.trim().replace(/ --$/, "");
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(
  new URL(`chaos-${date.slice(0, 10)}.json`, RESULTS_DIR),
  `${JSON.stringify({ date, command, boundMs, durationMs: Math.round(performance.now() - started), results: results.map(({ history: _, ...r }) => r) }, null, 2)}\n`,
);
if (historyFile) writeFileSync(historyFile, JSON.stringify(Object.fromEntries(results.map((r) => [r.scenario, r.history]))));
writeFileSync(
  new URL("chaos-latest.md", RESULTS_DIR),
  [
    `Chaos run of ${date.slice(0, 16).replace("T", " ")} UTC (\`${command}\`, ${Math.round((performance.now() - started) / 60_000)} min): 3 node processes per scenario,`,
    `${defaultChaosOptions.clients} concurrent clients, a fault proxy between each node and its lock store (DynamoDB Local, etcd or ZooKeeper) and in front of each cluster port.`,
    "",
    table,
    "",
    ...results.map((r) => `- **${r.scenario}**: ${r.what}.`),
    "",
    "Lost: a key read after recovery (clients quiet) older than its last acknowledged write. Stale: a read older than a value",
    "acknowledged or read before it began, or a value never written. Dual-active: overlapping active terms of two processes,",
    "from each node's own log (a term ends at its renewal deadline when the node noticed late; frozen time does not count).",
    "Closest handover: least time between one term's end and the next one's start. Fenced writes: writes refused after the",
    "writer's term ended, by DynamoDB's epoch condition or, on S3, by the node's own hold check. Recovery: from the fault",
    "until a write through every node not itself faulted succeeded again. Failed requests: the clients' requests (each",
    "attempt, 307s followed) that ended in a 5xx, no answer or a timeout, of all their requests; the chaos clients retry",
    "them on another node, a client without retries would have seen them as errors.",
    "",
  ].join("\n"),
);
process.stdout.write(`\n${table}\n`);
const failed = results.some((r) => r.lost + r.stale + r.dualActive.length + r.epochProblems.length + r.slowRounds + r.errors.length > 0);
process.exit(failed ? 1 : 0);
