/**
 * The soak (`npm run bench -- soak`, issue #34): three nodes (S3 stand-in for data, DynamoDB Local
 * for the lock) under a steady mixed load (soak-load.ts) held at ~70 % of the machine's CPU, with GC
 * pressure in every node and 50–200 ms event-loop stalls sent to whichever node is active every
 * 1–5 s (soak-preload.mjs, loaded through NODE_OPTIONS: the product has no hook for it). Nothing
 * kills a node or steps one down, so every leadership change is spurious. It counts them, and failed
 * requests, and reports the lock's renewal latency and the least margin any renewal left before the
 * holder's deadline (the strongbox_ha_lock_renewal* metrics, scraped from every node every 5 s).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { api, type ClusterNode, type ClusterStores, startCluster, waitFor } from "../test/helpers/cluster.js";
import { renewDeadlineMs } from "../src/physical/lease.js";
import type { BenchReport } from "./report.js";
import { sleep } from "./processes.js";
import { prepareReadToken, READ_PATH } from "./setup.js";
import { type LoadSummary, runMixedLoad } from "./soak-load.js";
import { round } from "./stats.js";

/** The lock timings a soak runs with: the defaults, a candidate for failover within 1 s, and a longer lease. */
export const SOAK_TIMINGS = {
  default: { leaseMs: 1500, renewIntervalMs: 300, retryIntervalMs: 200 },
  fast: { leaseMs: 900, renewIntervalMs: 150, retryIntervalMs: 100 },
  /** Twice the default lease: what a host loaded past its cores needs (crash failover ≈ 3 s). */
  long: { leaseMs: 3000, renewIntervalMs: 500, retryIntervalMs: 300 },
} as const;
export type SoakTimings = keyof typeof SOAK_TIMINGS;

export interface SoakOptions {
  seconds: number;
  timings: SoakTimings;
  /** Share of the machine's CPU the soak's processes are steered to; null: a fixed `initialRate`. */
  targetCpuPercent: number | null;
  initialRate: number;
}

const PRELOAD = new URL("./soak-preload.mjs", import.meta.url).href;
const STALL_EVERY_MS = { min: 1_000, max: 5_000 };
const LEADER_POLL_MS = 200;
const SCRAPE_MS = 5_000;

interface NodeFigures {
  acquisitions: number;
  losses: number;
  renewals: number;
  quantilesMs: { p50: number; p90: number; p99: number };
  slowestMs: number;
  marginMinMs: number;
}

interface PreloadStats {
  stalls: number;
  stalledMs: number;
  longestStallMs: number;
  garbageMb: number;
  gc: { minor: number; major: number; other: number; pauseMs: number; longestPauseMs: number };
}

export interface SoakResult {
  timings: SoakTimings;
  lock: { leaseMs: number; renewIntervalMs: number; retryIntervalMs: number; renewDeadlineMs: number };
  seconds: number;
  /** The machine's 1, 5 and 15-minute load averages when the load started and when it ended. */
  loadAverage: { start: number[]; end: number[] };
  load: LoadSummary;
  stallsSent: number;
  /** Acquisitions of the lock during the load (every one a change of leader: nothing caused one). */
  leadershipChanges: number;
  lockLosses: number;
  /** Changes of the node answering sys/leader is_self, as the 200 ms poll saw them. */
  observedChanges: { atSeconds: number; from: number; to: number }[];
  /** Why a node stopped being active, from its log. */
  lossReasons: string[];
  renewal: { renewals: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number; minMarginMs: number };
  /** Per node: what the preload injected and the GCs it saw. */
  injected: (PreloadStats | null)[];
  nodes: NodeFigures[];
}

function lockOptions(timings: SoakTimings): Record<string, string> {
  if (timings === "default") return {};
  const { leaseMs, renewIntervalMs, retryIntervalMs } = SOAK_TIMINGS[timings];
  return { ha_lease_duration: `${leaseMs}ms`, ha_renew_interval: `${renewIntervalMs}ms`, ha_retry_interval: `${retryIntervalMs}ms` };
}

/** One figure of a Prometheus text scrape (first series with all `labels`), or null. */
function figure(text: string, name: string, labels = ""): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name && (match[2] ?? "").includes(labels)) return Number(match[3]);
  }
  return null;
}

async function scrape(node: ClusterNode, token: string): Promise<NodeFigures | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${node.port}/v1/sys/metrics?format=prometheus`, {
      headers: { "x-vault-token": token },
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    if (response.status !== 200) return null;
    const of = (name: string, labels = "") => figure(text, name, labels) ?? 0;
    return {
      acquisitions: of("strongbox_ha_lock_acquisitions_total"),
      losses: of("strongbox_ha_lock_losses_total"),
      renewals: of("strongbox_ha_lock_renewal_count"),
      quantilesMs: {
        p50: of("strongbox_ha_lock_renewal", 'quantile="0.5"'),
        p90: of("strongbox_ha_lock_renewal", 'quantile="0.9"'),
        p99: of("strongbox_ha_lock_renewal", 'quantile="0.99"'),
      },
      slowestMs: of("strongbox_ha_lock_renewal_slowest_ms"),
      marginMinMs: of("strongbox_ha_lock_renewal_margin_min_ms"),
    };
  } catch {
    return null;
  }
}

/** A read through every standby and a write through every node answer 2xx: connections and views are warm. */
async function settle(nodes: ClusterNode[], rootToken: string, readToken: string): Promise<void> {
  for (const node of nodes) {
    await waitFor(async () => ((await api(node, "GET", READ_PATH, undefined, readToken)).status === 200 ? true : null), 20_000, `a read via ${node.index}`);
    await waitFor(
      async () => ((await api(node, "PUT", "secret/data/soak-settle", { data: { node: node.index } }, rootToken)).status === 200 ? true : null),
      20_000,
      `a write via node ${node.index}`,
    );
  }
  await sleep(2_000);
}

export async function runSoak(stores: ClusterStores, options: SoakOptions): Promise<SoakResult> {
  const statsDir = mkdtempSync(join(tmpdir(), "strongbox-soak-"));
  const statsFile = (index: number) => join(statsDir, `node${index}.json`);
  const cluster = await startCluster(stores, {
    size: 3,
    lockOptions: lockOptions(options.timings),
    extraConfig: 'standby_reads = true\ntelemetry {\n  disable_hostname = true\n  prometheus_retention_time = "1h"\n}\n',
    nodeSetup: ({ index }) => ({
      env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${PRELOAD}`.trim(), SOAK_STATS_FILE: statsFile(index) },
    }),
  });
  try {
    const { nodes, rootToken } = cluster;
    // Each step again on whoever is active, should the term end under it (a loaded host, short leases).
    const onActive = async <T>(step: (active: ClusterNode) => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await step(await cluster.waitForActive());
        } catch (error) {
          if (attempt === 5) throw error;
          await sleep(1_000);
        }
      }
    };
    await onActive(async (active) => {
      const mounted = await api(active, "POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, rootToken);
      // Mounted by an attempt whose answer was lost with the term: as good.
      if (mounted.status !== 204 && !JSON.stringify(mounted.body).includes("already in use")) throw new Error(`mounting secret/ answered ${mounted.status}`);
    });
    const readToken = await onActive((active) => prepareReadToken(active, rootToken));
    await onActive(() => settle(nodes, rootToken, readToken));
    const firstActive = await cluster.waitForActive();

    const baseline = await Promise.all(nodes.map((node) => scrape(node, rootToken)));
    if (baseline.some((figures) => figures === null)) throw new Error("sys/metrics did not answer on every node before the soak");
    const worst = nodes.map(() => ({ slowestMs: 0, marginMinMs: Infinity }));
    const latest: (NodeFigures | null)[] = [...baseline];
    const record = (figures: (NodeFigures | null)[]) =>
      figures.forEach((node, index) => {
        if (!node || node.renewals === 0) return;
        latest[index] = node;
        worst[index]!.slowestMs = Math.max(worst[index]!.slowestMs, node.slowestMs);
        worst[index]!.marginMinMs = Math.min(worst[index]!.marginMinMs, node.marginMinMs);
      });

    let active: number | null = firstActive.index;
    const observedChanges: SoakResult["observedChanges"] = [];
    const start = performance.now();
    const end = start + options.seconds * 1000;
    const atSeconds = () => round((performance.now() - start) / 1000, 1);

    const pollLeader = async () => {
      while (performance.now() < end) {
        const sent = performance.now();
        const views = await Promise.all(nodes.map((node) => api(node, "GET", "sys/leader").catch(() => null)));
        const selves = views.flatMap((view, index) => (view?.status === 200 && view.body.is_self === true ? [index] : []));
        if (selves.length === 1 && selves[0] !== active) {
          observedChanges.push({ atSeconds: atSeconds(), from: active ?? -1, to: selves[0]! });
          active = selves[0]!;
        }
        await sleep(Math.max(0, sent + LEADER_POLL_MS - performance.now()));
      }
    };
    let stallsSent = 0;
    const injectStalls = async () => {
      for (;;) {
        await sleep(STALL_EVERY_MS.min + Math.random() * (STALL_EVERY_MS.max - STALL_EVERY_MS.min));
        if (performance.now() >= end) return;
        const child = active === null ? undefined : nodes[active]!.process?.child;
        if (child?.kill("SIGUSR2")) stallsSent++;
      }
    };
    const scrapeEvery = async () => {
      while (performance.now() < end) {
        await sleep(Math.min(SCRAPE_MS, Math.max(0, end - performance.now())));
        record(await Promise.all(nodes.map((node) => scrape(node, rootToken))));
      }
    };

    const loadAverageStart = loadavg();
    const loadStartedAt = new Date().toISOString();
    const targets = { ports: nodes.map((node) => node.port), activeIndex: () => active, rootToken, readToken };
    const [load] = await Promise.all([
      runMixedLoad(targets, options.seconds, options.initialRate, options.targetCpuPercent),
      pollLeader(),
      injectStalls(),
      scrapeEvery(),
    ]);
    const loadAverageEnd = loadavg();
    const final = await Promise.all(nodes.map((node) => scrape(node, rootToken)));
    record(final);

    const delta = (field: "acquisitions" | "losses") =>
      final.reduce((sum, figures, index) => sum + ((figures ?? latest[index])![field] - baseline[index]![field]), 0);
    const renewing = nodes.map((_, index) => index).filter((index) => (latest[index]?.renewals ?? 0) > 0);
    const across = (pick: (index: number) => number, combine: (a: number, b: number) => number, empty: number) =>
      renewing.map(pick).reduce((a, b) => combine(a, b), empty);
    const lossReasons = nodes.flatMap(
      (node) =>
        node.process
          ?.output()
          .split("\n")
          // Log lines start with their ISO time: only the terms lost while the load ran.
          .filter((line) => line.includes("stopped active operation") && line.slice(0, 24) >= loadStartedAt)
          .map((line) => `node ${node.index}: ${line.slice(0, 400)}`) ?? [],
    );
    const { leaseMs, renewIntervalMs, retryIntervalMs } = SOAK_TIMINGS[options.timings];
    return {
      timings: options.timings,
      lock: { leaseMs, renewIntervalMs, retryIntervalMs, renewDeadlineMs: renewDeadlineMs(SOAK_TIMINGS[options.timings]) },
      seconds: options.seconds,
      loadAverage: { start: loadAverageStart.map((l) => round(l, 2)), end: loadAverageEnd.map((l) => round(l, 2)) },
      load,
      stallsSent,
      leadershipChanges: delta("acquisitions"),
      lockLosses: delta("losses"),
      observedChanges,
      lossReasons,
      renewal: {
        renewals: across(
          (index) => latest[index]!.renewals - baseline[index]!.renewals,
          (a, b) => a + b,
          0,
        ),
        // A node's quantiles cover its own renewals (all of them when the leader never changed); the worst node's are given.
        p50Ms: round(
          across((index) => latest[index]!.quantilesMs.p50, Math.max, 0),
          1,
        ),
        p90Ms: round(
          across((index) => latest[index]!.quantilesMs.p90, Math.max, 0),
          1,
        ),
        p99Ms: round(
          across((index) => latest[index]!.quantilesMs.p99, Math.max, 0),
          1,
        ),
        maxMs: round(
          across((index) => worst[index]!.slowestMs, Math.max, 0),
          1,
        ),
        minMarginMs: round(
          across((index) => worst[index]!.marginMinMs, Math.min, Infinity),
          1,
        ),
      },
      injected: nodes.map((node) => (existsSync(statsFile(node.index)) ? (JSON.parse(readFileSync(statsFile(node.index), "utf8")) as PreloadStats) : null)),
      nodes: latest.map((figures) => figures!),
    };
  } finally {
    await cluster.stop();
    rmSync(statsDir, { recursive: true, force: true });
  }
}

/** The soak as a benchmark table: one row, the run's figures, and the verdict. */
export async function benchSoak(stores: ClusterStores, timings: SoakTimings, seconds: number): Promise<BenchReport> {
  const result = await runSoak(stores, { seconds, timings, targetCpuPercent: 70, initialRate: 50 });
  const { lock, load, renewal } = result;
  const held = result.leadershipChanges === 0 && result.lockLosses === 0 && load.failures.length === 0;
  const stalled = result.injected.reduce((sum, stats) => sum + (stats?.stalledMs ?? 0), 0);
  const gcs = result.injected.reduce(
    (sum, stats) => ({
      minor: sum.minor + (stats?.gc.minor ?? 0),
      major: sum.major + (stats?.gc.major ?? 0),
      longestMs: Math.max(sum.longestMs, stats?.gc.longestPauseMs ?? 0),
    }),
    { minor: 0, major: 0, longestMs: 0 },
  );
  const failuresBy = Object.entries(
    load.failures.reduce<Record<string, number>>((counts, failure) => {
      const key = `${failure.operation} → ${failure.outcome}`;
      counts[key] = (counts[key] ?? 0) + 1;
      return counts;
    }, {}),
  ).map(([what, count]) => `${what} ×${count}`);
  return {
    name: timings === "default" ? "soak" : `soak-${timings}`,
    title: `Soak with ${{ default: "the default", fast: "the faster candidate", long: "twice the default" }[timings]} lock timings: leadership changes nothing caused, under load, GC pressure and event-loop stalls in the active`,
    columns: [
      "lease / renew / retry (ms)",
      "run (s)",
      "load average (1 min) start → end",
      "requests/s",
      "soak CPU % of machine (mean, min–max)",
      "machine busy %",
      "stalls sent (total ms)",
      "node GCs minor / major (longest ms)",
      "leadership changes",
      "failed requests",
      "renewal p50 / p90 / p99 / max (ms)",
      "least margin (ms) of the deadline",
      "held",
    ],
    rows: [
      [
        `${lock.leaseMs} / ${lock.renewIntervalMs} / ${lock.retryIntervalMs}`,
        result.seconds,
        `${result.loadAverage.start[0]} → ${result.loadAverage.end[0]}`,
        load.requestsPerSecond,
        `${load.ownCpuPercent.mean} (${load.ownCpuPercent.min}–${load.ownCpuPercent.max})`,
        load.machineBusyPercent.mean,
        `${result.stallsSent} (${Math.round(stalled)})`,
        `${gcs.minor} / ${gcs.major} (${Math.round(gcs.longestMs)})`,
        result.leadershipChanges,
        load.failures.length,
        `${renewal.p50Ms} / ${renewal.p90Ms} / ${renewal.p99Ms} / ${renewal.maxMs}`,
        `${renewal.minMarginMs} of ${lock.renewDeadlineMs}`,
        held ? "yes" : "**no**",
      ],
    ],
    notes: [
      "3 nodes, S3 stand-in for data, DynamoDB Local for the lock (renewed from each node's lock worker thread), `standby_reads = true`.",
      `Load: 60 % KV v2 reads through the standbys (policy-bound token), 25 % KV v2 writes and 15 % token creations (ttl 1m) through every node; the rate is steered every 5 s so this process and its children (nodes, DynamoDB Local, S3) use 70 % of the machine's CPU; it ended at ${load.finalRate} requests/s.`,
      "Injected by bench/soak-preload.mjs (NODE_OPTIONS --import, not in the product): ~8 MB/s of small objects kept ~3 s in every node's main thread; a 50–200 ms busy-wait of the active's main event loop (SIGUSR2) every 1–5 s.",
      "Leadership changes: lock acquisitions during the load, from every node's strongbox_ha_lock_acquisitions_total (nothing kills or steps down a node, so each is spurious); failed requests: any answer not 2xx, or a transport error (30 s timeout, hvac's default). Load average: the 1-minute figure when the load started and ended (others' work on a shared host included).",
      `Renewal figures: strongbox_ha_lock_renewal (the worst node's quantiles), and the term's slowest renewal and least margin (strongbox_ha_lock_renewal_*), scraped every 5 s. The margin is how long before the holder's deadline (${lock.renewDeadlineMs} ms = ⅔ of the lease after the previous renewal was sent) a renewal succeeded; at 0 the active steps down. ${renewal.renewals} renewals.`,
      ...(failuresBy.length ? [`Failed requests: ${failuresBy.join("; ")}.`] : []),
      ...(result.lossReasons.length ? [`Terms lost: ${result.lossReasons.join(" | ")}`] : []),
    ],
    data: result,
  };
}
