/**
 * The soak's steady mixed load (bench/soak.ts): KV reads through the standbys, KV writes and token
 * creation through every node, at a rate steered so that the soak's own processes use a target
 * share of the machine's CPU. Every answer that is not 2xx, and every transport error, is a failure.
 */
import { Agent, request } from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { cpuMicroseconds } from "./processes.js";
import { READ_PATH } from "./setup.js";
import { percentile, round } from "./stats.js";

export type Operation = "kv read (standby)" | "kv write" | "token create";

/** Shares of the mix: reads dominate, as they do for a secrets store. */
const MIX: [Operation, number][] = [
  ["kv read (standby)", 0.6],
  ["kv write", 0.25],
  ["token create", 0.15],
];
/** Keys the writes cycle through, so versions do not pile up on one key. */
const WRITE_KEYS = 64;
/** hvac's default: a request slower than this is one its clients would see fail. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Past this many requests in flight the generator waits: a saturated cluster is measured, not flooded. */
const MAX_IN_FLIGHT = 48;
const STEER_INTERVAL_MS = 5_000;
const MIN_RATE = 10;
const MAX_RATE = 5_000;

export interface LoadTargets {
  ports: number[];
  /** Index into `ports` of the node believed active now (reads go to the others); null: unknown. */
  activeIndex(): number | null;
  rootToken: string;
  readToken: string;
}

export interface Failure {
  operation: Operation;
  node: number;
  /** HTTP status, or the transport error's code. */
  outcome: string;
  atSeconds: number;
}

export interface LoadSummary {
  requests: number;
  requestsPerSecond: number;
  failures: Failure[];
  perOperation: Record<Operation, { requests: number; p50Ms: number; p99Ms: number; maxMs: number }>;
  /** The rate the generator settled on, and the CPU shares it saw (each over one steering interval). */
  finalRate: number;
  ownCpuPercent: { mean: number; min: number; max: number };
  machineBusyPercent: { mean: number; min: number; max: number };
}

function send(agent: Agent, port: number, method: string, path: string, token: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const sent = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: `/v1/${path}`,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { "x-vault-token": token, ...(payload ? { "content-type": "application/json" } : {}) },
      },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode!));
        response.on("error", reject);
      },
    );
    sent.on("timeout", () => sent.destroy(Object.assign(new Error("timed out"), { code: "TIMEOUT" })));
    sent.on("error", reject);
    sent.end(payload);
  });
}

/** Every process this one started (the nodes, the store servers), from /proc. */
function childPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const afterName = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (Number(afterName[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = fields[3]! + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU used by this process and its children, as a share of the machine, between two calls. */
function cpuMeter() {
  const cores = cpus().length;
  const ownMicros = () => [process.pid, ...childPids()].reduce((sum, pid) => sum + safeCpu(pid), 0);
  let last = { at: performance.now(), own: ownMicros(), machine: machineJiffies() };
  return () => {
    const now = { at: performance.now(), own: ownMicros(), machine: machineJiffies() };
    const elapsedMicros = (now.at - last.at) * 1000;
    const own = (100 * (now.own - last.own)) / (elapsedMicros * cores);
    const machine = (100 * (now.machine.busy - last.machine.busy)) / Math.max(1, now.machine.total - last.machine.total);
    last = now;
    return { own, machine };
  };
}

function safeCpu(pid: number): number {
  try {
    return cpuMicroseconds(pid);
  } catch {
    return 0;
  }
}

/**
 * Runs the mixed load for `seconds`, starting at `initialRate` requests per second and steering the
 * rate every 5 s toward `targetCpuPercent` of the machine for the soak's own processes (this one and
 * its children); null keeps the rate fixed (when the stores are some other process's children).
 */
export async function runMixedLoad(targets: LoadTargets, seconds: number, initialRate: number, targetCpuPercent: number | null): Promise<LoadSummary> {
  // With an agent timeout Node closes an idle socket a second before the server's Keep-Alive hint
  // says it will; without one it keeps it, and a request sent as the server closes it gets ECONNRESET.
  const agent = new Agent({ keepAlive: true, maxSockets: 24, timeout: 2 * REQUEST_TIMEOUT_MS });
  const start = performance.now();
  const end = start + seconds * 1000;
  const latencies = new Map<Operation, number[]>(MIX.map(([operation]) => [operation, []]));
  const failures: Failure[] = [];
  const ownShares: number[] = [];
  const machineShares: number[] = [];
  let rate = initialRate;
  let inFlight = 0;
  let issued = 0;
  let sequence = 0;
  const pending = new Set<Promise<void>>();

  const meter = cpuMeter();
  let answered = 0;
  let saturated = false;
  const steer = setInterval(() => {
    const { own, machine } = meter();
    ownShares.push(own);
    machineShares.push(machine);
    const answeredPerSecond = answered / (STEER_INTERVAL_MS / 1000);
    const wasSaturated = saturated;
    answered = 0;
    saturated = false;
    if (targetCpuPercent === null) return;
    // Half-way toward the rate that would give the target, at most ×1.5 or ×0.67 per step: steady, not jumpy.
    let wanted = rate * (targetCpuPercent / Math.max(1, own));
    // No more when the cluster did not keep up, or the machine is already busier than the target
    // (other work on a shared host): more load would only queue, and measure the queue.
    if (wanted > rate && (wasSaturated || machine >= targetCpuPercent + 15)) wanted = rate;
    if (wasSaturated) wanted = Math.min(wanted, answeredPerSecond);
    rate = Math.min(MAX_RATE, Math.max(MIN_RATE, Math.min(rate * 1.5, Math.max(rate / 1.5, (rate + wanted) / 2))));
  }, STEER_INTERVAL_MS);

  const pick = (): Operation => {
    let draw = Math.random();
    for (const [operation, share] of MIX) {
      if (draw < share) return operation;
      draw -= share;
    }
    return MIX[0]![0];
  };

  const one = async (operation: Operation) => {
    const n = sequence++;
    const active = targets.activeIndex();
    const standbys = targets.ports.map((_, index) => index).filter((index) => index !== active);
    const node = operation === "kv read (standby)" ? standbys[n % standbys.length]! : n % targets.ports.length;
    const port = targets.ports[node]!;
    const sentAt = performance.now();
    let outcome: string;
    try {
      const status =
        operation === "kv read (standby)"
          ? await send(agent, port, "GET", READ_PATH, targets.readToken)
          : operation === "kv write"
            ? await send(agent, port, "PUT", `secret/data/soak-${n % WRITE_KEYS}`, targets.rootToken, { data: { n } })
            : await send(agent, port, "POST", "auth/token/create", targets.rootToken, { policies: ["bench-read"], ttl: "1m" });
      outcome = String(status);
    } catch (error) {
      outcome = String((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    }
    if (/^2\d\d$/.test(outcome)) latencies.get(operation)!.push(performance.now() - sentAt);
    else failures.push({ operation, node, outcome, atSeconds: round((sentAt - start) / 1000, 1) });
  };

  // Open loop at `rate`, bounded by MAX_IN_FLIGHT: due requests are sent in small batches every 5 ms.
  let due = 0;
  let last = performance.now();
  while (performance.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const now = performance.now();
    due = Math.min(due + ((now - last) / 1000) * rate, rate); // never more than a second's backlog
    last = now;
    if (due >= 1 && inFlight >= MAX_IN_FLIGHT) saturated = true;
    while (due >= 1 && inFlight < MAX_IN_FLIGHT) {
      due--;
      inFlight++;
      issued++;
      const request = one(pick()).finally(() => {
        inFlight--;
        answered++;
        pending.delete(request);
      });
      pending.add(request);
    }
  }
  clearInterval(steer);
  await Promise.all(pending);
  agent.destroy();
  const elapsedSeconds = (performance.now() - start) / 1000;
  const spread = (values: number[]) =>
    values.length === 0
      ? { mean: 0, min: 0, max: 0 }
      : { mean: round(values.reduce((a, b) => a + b, 0) / values.length, 1), min: round(-maxOf(values.map((v) => -v)), 1), max: round(maxOf(values), 1) };
  const perOperation = Object.fromEntries(
    MIX.map(([operation]) => {
      const times = latencies.get(operation)!;
      const summary = times.length
        ? { requests: times.length, p50Ms: round(percentile(times, 50), 1), p99Ms: round(percentile(times, 99), 1), maxMs: round(maxOf(times), 1) }
        : { requests: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
      return [operation, summary];
    }),
  ) as LoadSummary["perOperation"];
  return {
    requests: issued,
    requestsPerSecond: round(issued / elapsedSeconds, 1),
    failures,
    perOperation,
    finalRate: round(rate, 0),
    // The first interval includes the ramp from `initialRate`; every interval is reported as seen.
    ownCpuPercent: spread(ownShares),
    machineBusyPercent: spread(machineShares),
  };
}

function maxOf(values: number[]): number {
  return values.reduce((max, value) => Math.max(max, value), -Infinity);
}
