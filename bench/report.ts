import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";

export const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));

/** One benchmark's outcome: a table for people, `data` for the JSON file. */
export interface BenchReport {
  /** File name stem under bench/results/. */
  name: string;
  title: string;
  columns: string[];
  rows: (string | number)[][];
  /** Targets met or missed, and why a figure is what it is. */
  notes: string[];
  data: unknown;
}

export interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  /** 1, 5 and 15-minute load averages when the run started and ended. */
  loadAverageStart: number[];
  loadAverageEnd?: number[];
  date: string;
}

export function describeMachine(): Machine {
  return {
    nproc: cpus().length,
    cpu: cpuModel(),
    node: process.version,
    loadAverageStart: loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
  };
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model ?? "unknown";
  } catch {
    return cpus()[0]?.model ?? "unknown";
  }
}

export function markdownTable(report: BenchReport): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(" | ")} |`;
  return [line(report.columns), line(report.columns.map(() => "---")), ...report.rows.map(line)].join("\n");
}

export function formatReport(report: BenchReport): string {
  const notes = report.notes.map((note) => `- ${note}`).join("\n");
  return `### ${report.title}\n\n${markdownTable(report)}\n${notes ? `\n${notes}\n` : ""}`;
}

export function machineLine(machine: Machine): string {
  const end = machine.loadAverageEnd ? `, at the end ${machine.loadAverageEnd.join(" / ")}` : "";
  return `${machine.nproc} × ${machine.cpu}, Node ${machine.node}; load average (1/5/15 min) at the start ${machine.loadAverageStart.join(" / ")}${end}; ${machine.date}`;
}

/**
 * Writes `<name>.json` for each report, then rebuilds `latest.md` from every result file there, so
 * running one benchmark (`npm run bench -- failover`) keeps the others' last tables, in `order`.
 */
export function writeResults(reports: BenchReport[], machine: Machine, order: string[]): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  for (const report of reports) {
    const { name, title, columns, rows, notes, data } = report;
    writeFileSync(`${RESULTS_DIR}${name}.json`, `${JSON.stringify({ name, title, machine, columns, rows, notes, data }, null, 2)}\n`);
  }
  // Only our own files: other tools (the chaos runs) write their results here too.
  const saved = order
    .filter((name) => existsSync(`${RESULTS_DIR}${name}.json`))
    .map((name) => JSON.parse(readFileSync(`${RESULTS_DIR}${name}.json`, "utf8")) as BenchReport & { machine: Machine });
  // One machine line when every table comes from one run; else one under each table.
  const oneRun = new Set(saved.map((report) => report.machine.date)).size === 1;
  const markdown = [
    "## Benchmarks",
    "",
    "`npm run bench` on loopback: real `strongbox server` processes, DynamoDB Local for the lock and the",
    "in-memory S3 stand-in for data (both from the test helpers), load from autocannon.",
    ...(oneRun ? ["", `Machine: ${machineLine(saved[0]!.machine)}.`] : []),
    "",
    ...saved.map((report) => (oneRun ? formatReport(report) : `${formatReport(report)}\nMachine: ${machineLine(report.machine)}.\n`)),
  ].join("\n");
  writeFileSync(`${RESULTS_DIR}latest.md`, markdown);
}
