import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const REGISTER_TS = fileURLToPath(new URL("./register-ts.mjs", import.meta.url));

export interface TsChild<T> {
  child: ChildProcess;
  /** What the child printed as its first stdout line (JSON). */
  info: T;
  stop(): Promise<void>;
}

/**
 * Runs a bench TypeScript file in its own Node process (so it does not share an event loop with
 * the load generator) and waits for the JSON line it prints once ready.
 */
export async function startTsChild<T>(file: string, timeoutMs = 30_000): Promise<TsChild<T>> {
  const child = spawn(process.execPath, ["--import", REGISTER_TS, fileURLToPath(new URL(file, import.meta.url))], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const info = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk;
      const newline = stdout.indexOf("\n");
      if (newline === -1) return;
      clearTimeout(timer);
      resolve(JSON.parse(stdout.slice(0, newline)) as T);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${file} exited before it was ready:\n${stderr}`));
    });
  });
  return {
    child,
    info,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

/** Resident set size of a process, in MB, from /proc/<pid>/status. */
export function rssMegabytes(pid: number): number {
  const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kilobytes === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kilobytes) / 1024;
}

/** CPU time (user + system) a process has used so far, in µs, from /proc/<pid>/stat. */
export function cpuMicroseconds(pid: number): number {
  // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are fields 14 and 15.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: what Linux counts /proc/<pid>/stat times in (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Samples the RSS of some processes every `intervalMs` until stopped; returns each one's peak. */
export function sampleRss(pids: Record<string, number>, intervalMs = 200): { stop(): Record<string, number> } {
  const peaks: Record<string, number> = Object.fromEntries(Object.keys(pids).map((name) => [name, 0]));
  const sample = () => {
    for (const [name, pid] of Object.entries(pids)) peaks[name] = Math.max(peaks[name]!, rssMegabytes(pid));
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
