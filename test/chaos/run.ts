import type { ClusterStores } from "../helpers/cluster.js";
import { ChaosCluster, type ChaosStorage, observedSkewMs } from "./chaos-cluster.js";
import { checkFinal, checkReads, type ReadRecord, type Violation, type WriteRecord } from "./checker.js";
import { type Attempted, type ClientOptions, PermanentError, readValue, wallNow, writeValue } from "./client.js";
import type { Scenario } from "./scenarios.js";
import { type ActiveTerm, activeTerms, checkTerms, closestHandoverMs, type DualActive, fencedWrites } from "./transitions.js";

export interface ChaosOptions {
  rounds: number;
  /** Each round must serve clients again within this long after the fault (ms). */
  boundMs: number;
  clients: number;
  keysPerClient: number;
  /** No round starts after this (performance.now() ms). */
  deadline?: number;
  /** Progress lines. */
  log?(line: string): void;
}

export const defaultChaosOptions: ChaosOptions = { rounds: 20, boundMs: 5_000, clients: 4, keysPerClient: 2 };

export interface RoundResult {
  round: number;
  /** ms from the fault until every probed node served a write again; null: not within the bound. */
  recoveryMs: number | null;
  /** Why a probe still failed at the bound. */
  unrecovered?: string;
  note?: string;
}

export interface ScenarioResult {
  scenario: string;
  what: string;
  storage: ChaosStorage;
  rounds: number;
  ackedWrites: number;
  /** Writes whose retries ran out: they may or may not have landed. */
  unknownWrites: number;
  reads: number;
  failedReads: number;
  /** The clients' requests (each attempt, redirects followed) and those that failed and were retried or given up. */
  requests: number;
  failedRequests: number;
  lost: number;
  stale: number;
  dualActive: DualActive[];
  epochProblems: string[];
  fencedWrites: number;
  activeTerms: number;
  /** Least time from one active term's end to the next term's start, in ms (negative: overlap). */
  closestHandoverMs: number | null;
  /** Each node's wall-clock skew at the start, as its sys/health reported it (s). */
  observedSkewsS: number[];
  recoveryP50Ms: number | null;
  recoveryMaxMs: number | null;
  /** Rounds that did not recover within the bound. */
  slowRounds: number;
  roundResults: RoundResult[];
  /** The first few violations and errors, in words. */
  violations: string[];
  errors: string[];
  durationMs: number;
  /** Everything the checks read: every client operation with its time window, and each node's active terms. */
  history: { writes: WriteRecord[]; reads: ReadRecord[]; finalReads: ReadRecord[]; terms: ActiveTerm[] };
}

const MOUNT = "secret";
const OP_BUDGET_MS = 30_000;
const ATTEMPT_TIMEOUT_MS = 10_000;
const HEALTHY_TIMEOUT_MS = 30_000;
const WARMUP_MS = 300;
/** Clients keep going this long after the cluster is healthy again, to meet a woken or restarted node. */
const SETTLE_MS = 500;
/** The fault stays this long after recovery, so clients work against the degraded cluster too. */
const HOLD_AFTER_RECOVERY_MS = 500;
const THINK_MS = 20;
const REPORTED_VIOLATIONS = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Concurrent clients: each writes increasing values to its own keys and reads everyone's, through random nodes. */
class Workload {
  readonly writes: WriteRecord[] = [];
  readonly reads: ReadRecord[] = [];
  readonly errors: string[] = [];
  failedReads = 0;
  requests = 0;
  failedRequests = 0;
  readonly keys: string[][];
  readonly #lastValue = new Map<string, number>();
  #running: Promise<void>[] = [];
  #stopping = false;

  constructor(
    private readonly client: ClientOptions,
    clients: number,
    keysPerClient: number,
  ) {
    this.keys = Array.from({ length: clients }, (_, c) => Array.from({ length: keysPerClient }, (_, k) => `chaos/c${c}k${k}`));
  }

  get allKeys(): string[] {
    return this.keys.flat();
  }

  start(): void {
    this.#stopping = false;
    this.#running = this.keys.map((own) => this.#loop(own));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#running);
  }

  async #loop(own: string[]): Promise<void> {
    const all = this.allKeys;
    while (!this.#stopping) {
      try {
        if (Math.random() < 0.5) await this.write(own[Math.floor(Math.random() * own.length)]!);
        else await this.read(all[Math.floor(Math.random() * all.length)]!, this.reads);
      } catch (error) {
        this.errors.push(error instanceof PermanentError ? error.message : String(error));
        await sleep(200);
      }
      await sleep(THINK_MS * Math.random());
    }
  }

  async write(key: string): Promise<void> {
    const value = (this.#lastValue.get(key) ?? 0) + 1;
    this.#lastValue.set(key, value);
    const result = this.#count(await writeValue(this.client, MOUNT, key, value));
    this.writes.push({ key, value, start: result.firstStart, end: result.result === null ? null : result.end });
  }

  /** Reads `key` into `into`; the failure reason when retries ran out. */
  async read(key: string, into: ReadRecord[]): Promise<string | null> {
    const result = this.#count(await readValue(this.client, MOUNT, key));
    if (result.result === null) {
      this.failedReads++;
      return result.lastError;
    }
    into.push({ key, value: result.result, start: result.lastStart, end: result.end });
    return null;
  }

  /** Every attempt but a successful last one failed (5xx, no answer or a timeout): a Vault client without retries would have seen it. */
  #count<T>(attempted: Attempted<T>): Attempted<T> {
    this.requests += attempted.attempts;
    this.failedRequests += attempted.attempts - (attempted.result === null ? 0 : 1);
    return attempted;
  }
}

/** ms from `t0` until a write through each of `nodes` succeeded; null if one did not by the bound. */
async function measureRecovery(nodes: string[], t0: number, boundMs: number, token: string): Promise<Pick<RoundResult, "recoveryMs" | "unrecovered">> {
  const probes = await Promise.all(
    nodes.map(async (apiAddr, i) => {
      const budgetMs = Math.max(1, t0 + boundMs - wallNow());
      const client = { nodes: () => [apiAddr], token, budgetMs, attemptTimeoutMs: budgetMs };
      const result = await writeValue(client, MOUNT, `chaos-probe/${i}`, Date.now());
      return { apiAddr, ...result };
    }),
  );
  const failed = probes.find((p) => p.result === null);
  if (failed) return { recoveryMs: null, unrecovered: `through ${failed.apiAddr}: ${failed.lastError}` };
  return { recoveryMs: Math.max(...probes.map((p) => p.end - t0)) };
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Runs `scenario` for `options.rounds` rounds on a fresh 3-node cluster and checks the history. */
export async function runScenario(stores: ClusterStores, scenario: Scenario, options: ChaosOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const log = (line: string) => options.log?.(`[${scenario.name}] ${line}`);
  let chaos: ChaosCluster | undefined;
  const client: ClientOptions = { nodes: () => chaos!.apiAddrs(), token: "", budgetMs: OP_BUDGET_MS, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS };
  const workload = new Workload(client, options.clients, options.keysPerClient);
  const finalReads: ReadRecord[] = [];
  const roundResults: RoundResult[] = [];
  const errors: string[] = [];
  let observedSkewsS: number[] = [];
  try {
    chaos = await ChaosCluster.start(stores, { storage: scenario.storage, size: 3, skewsMs: scenario.skewsMs });
    client.token = chaos.rootToken;
    const active = await chaos.waitHealthy(HEALTHY_TIMEOUT_MS);
    observedSkewsS = await Promise.all(chaos.nodes.map(async (n) => Math.round((await observedSkewMs(n.node.apiAddr)) / 1000)));
    const mount = await fetch(`${active.node.apiAddr}/v1/sys/mounts/${MOUNT}`, {
      method: "POST",
      headers: { "x-vault-token": chaos.rootToken },
      body: JSON.stringify({ type: "kv-v2" }),
    });
    if (mount.status !== 204) throw new Error(`mounting kv-v2 failed: ${mount.status} ${await mount.text()}`);

    for (let round = 1; round <= options.rounds && performance.now() < (options.deadline ?? Infinity); round++) {
      const active = await chaos.waitHealthy(HEALTHY_TIMEOUT_MS);
      workload.start();
      try {
        await sleep(WARMUP_MS);
        const t0 = wallNow();
        const fault = await scenario.inject(chaos, active, round);
        const { recoveryMs, unrecovered } = await measureRecovery(
          fault.probe.map((n) => n.node.apiAddr),
          t0,
          options.boundMs,
          chaos.rootToken,
        );
        await sleep(Math.max(t0 + fault.minHoldMs, t0 + (recoveryMs ?? options.boundMs) + HOLD_AFTER_RECOVERY_MS) - wallNow());
        await fault.heal();
        await chaos.waitHealthy(HEALTHY_TIMEOUT_MS);
        await sleep(SETTLE_MS);
        roundResults.push({ round, recoveryMs, ...(unrecovered && { unrecovered }), ...(fault.note && { note: fault.note }) });
        log(
          `round ${round}: ${recoveryMs === null ? `not recovered within ${options.boundMs} ms (${unrecovered})` : `recovered in ${Math.round(recoveryMs)} ms`}`,
        );
      } finally {
        await workload.stop();
      }
      // With the clients quiet, every key must read at least its last acknowledged value.
      const unreadable = await Promise.all(workload.allKeys.map((key) => workload.read(key, finalReads)));
      unreadable.forEach((reason, i) => reason && errors.push(`round ${round}: ${workload.allKeys[i]} unreadable after recovery: ${reason}`));
    }
  } catch (error) {
    errors.push(`round ${roundResults.length + 1} failed: ${error instanceof Error ? error.message : String(error)}`);
    log(errors.at(-1)!);
  } finally {
    await chaos?.stop().catch((error) => errors.push(`stopping the cluster failed: ${String(error)}`));
  }

  const readViolations = checkReads(workload.writes, workload.reads);
  const lost = checkFinal(workload.writes, finalReads);
  const incarnations = chaos?.incarnations() ?? [];
  const terms = incarnations.flatMap((incarnation) => activeTerms(incarnation, wallNow()));
  const { dualActive, epochProblems } = checkTerms(terms);
  // The terms come from log lines: none (or too few) means the lines changed, not that all is well.
  if (terms.length === 0 || (scenario.failsOver && terms.length < roundResults.length + 1)) {
    errors.push(`only ${terms.length} active terms found in the node logs for ${roundResults.length} rounds that each move leadership`);
  }
  if (scenario.keepsLeader && terms.length > 1) errors.push(`leadership changed ${terms.length - 1} times; the fault must not move it`);
  const recoveries = roundResults.map((r) => r.recoveryMs);
  const recovered = recoveries.filter((r): r is number => r !== null);
  const violations = [
    ...[...lost, ...readViolations].map((v: Violation) => `${v.kind} ${v.key}: ${v.detail}`),
    ...dualActive.map((d) => `dual-active: nodes ${d.nodes.join(" and ")} (epochs ${d.epochs.join(", ")}) for ${d.overlapMs} ms from ${d.from}`),
    ...epochProblems,
  ];
  return {
    scenario: scenario.name,
    what: scenario.what,
    storage: scenario.storage,
    rounds: roundResults.length,
    ackedWrites: workload.writes.filter((w) => w.end !== null).length,
    unknownWrites: workload.writes.filter((w) => w.end === null).length,
    reads: workload.reads.length,
    failedReads: workload.failedReads,
    requests: workload.requests,
    failedRequests: workload.failedRequests,
    lost: lost.length,
    stale: readViolations.length,
    dualActive,
    epochProblems,
    fencedWrites: incarnations.reduce((sum, i) => sum + fencedWrites(i.log), 0),
    activeTerms: terms.length,
    closestHandoverMs: closestHandoverMs(terms),
    observedSkewsS,
    recoveryP50Ms: percentile(recovered, 0.5),
    recoveryMaxMs: recovered.length === recoveries.length ? percentile(recovered, 1) : null,
    slowRounds: recoveries.filter((r) => r === null || r > options.boundMs).length,
    roundResults,
    violations: violations.slice(0, REPORTED_VIOLATIONS),
    errors: [...errors, ...workload.errors].slice(0, REPORTED_VIOLATIONS),
    durationMs: Math.round(performance.now() - started),
    history: { writes: workload.writes, reads: workload.reads, finalReads, terms },
  };
}
