import type { ScenarioResult } from "./run.js";

const ms = (value: number | null) => (value === null ? "—" : `${(value / 1000).toFixed(2)} s`);

/** The per-scenario table, as Markdown. */
export function resultTable(results: ScenarioResult[], boundMs: number): string {
  const header = [
    "scenario",
    "storage",
    "rounds",
    "acked writes",
    "reads",
    "failed requests",
    "lost",
    "stale reads",
    "dual-active",
    "closest handover",
    "fenced writes",
    "recovery p50",
    "recovery max",
    `over ${ms(boundMs)}`,
  ];
  const rows = results.map((r) => [
    r.scenario,
    { s3: "S3 + DynamoDB lock", dynamodb: "DynamoDB (fenced)", etcd: "etcd (fenced)", zookeeper: "ZooKeeper (fenced)" }[r.storage],
    String(r.rounds),
    String(r.ackedWrites),
    String(r.reads),
    `${r.failedRequests} of ${r.requests} (${r.requests === 0 ? 0 : ((100 * r.failedRequests) / r.requests).toFixed(1)} %)`,
    String(r.lost),
    String(r.stale),
    r.dualActive.length === 0 && r.epochProblems.length === 0 ? "0" : `${r.dualActive.length + r.epochProblems.length}`,
    ms(r.closestHandoverMs),
    String(r.fencedWrites),
    ms(r.recoveryP50Ms),
    r.recoveryMaxMs === null && r.rounds > 0 ? `> ${ms(boundMs)}` : ms(r.recoveryMaxMs),
    String(r.slowRounds),
  ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
