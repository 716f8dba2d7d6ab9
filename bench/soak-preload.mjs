// Bench-only fault injection for the soak (bench/soak.ts), loaded into each node process with
// NODE_OPTIONS="--import <this file>", so the product carries no hook for it:
// - GC pressure: small short-lived objects at a steady rate, plus a ring of them kept for a few
//   seconds, so they reach the old generation and die there (scavenges and mark-compacts both run);
// - stalls: on SIGUSR2 the main event loop busy-waits for a random 50–200 ms, as a large body being
//   parsed or a long handler would hold it (the soak sends it to whichever node is active).
// What happened is written to SOAK_STATS_FILE (JSON) every second, for the report.
// Only the main thread: the HA lock's worker thread (which loads this too) is left as it is.
import { writeFileSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";

if (isMainThread) {
  const env = process.env;
  const stallMinMs = Number(env.SOAK_STALL_MIN_MS ?? 50);
  const stallMaxMs = Number(env.SOAK_STALL_MAX_MS ?? 200);
  const garbageMbPerSecond = Number(env.SOAK_GARBAGE_MB_PER_SECOND ?? 8);
  const retainedSeconds = Number(env.SOAK_RETAINED_SECONDS ?? 3);
  const statsFile = env.SOAK_STATS_FILE;

  const stats = {
    pid: process.pid,
    stalls: 0,
    stalledMs: 0,
    longestStallMs: 0,
    garbageMb: 0,
    gc: { minor: 0, major: 0, other: 0, pauseMs: 0, longestPauseMs: 0 },
  };

  process.on("SIGUSR2", () => {
    const blockMs = stallMinMs + Math.random() * (stallMaxMs - stallMinMs);
    const start = performance.now();
    while (performance.now() - start < blockMs);
    const stalledMs = performance.now() - start;
    stats.stalls++;
    stats.stalledMs += stalledMs;
    stats.longestStallMs = Math.max(stats.longestStallMs, stalledMs);
  });

  const TICK_MS = 50;
  // About 64 bytes per object with its string: a request's worth of small allocations, not one large buffer.
  const objectsPerTick = Math.round((garbageMbPerSecond * 1024 * 1024 * TICK_MS) / 1000 / 64);
  const ring = new Array(Math.max(1, Math.round((retainedSeconds * 1000) / TICK_MS)));
  let tick = 0;
  setInterval(() => {
    const chunk = new Array(objectsPerTick);
    for (let i = 0; i < objectsPerTick; i++) chunk[i] = { index: i, label: `garbage-${tick}-${i}` };
    ring[tick++ % ring.length] = chunk;
    stats.garbageMb += (objectsPerTick * 64) / (1024 * 1024);
  }, TICK_MS).unref();

  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = entry.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) stats.gc.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) stats.gc.major++;
      else stats.gc.other++;
      stats.gc.pauseMs += entry.duration;
      stats.gc.longestPauseMs = Math.max(stats.gc.longestPauseMs, entry.duration);
    }
  }).observe({ entryTypes: ["gc"] });

  if (statsFile) setInterval(() => writeFileSync(statsFile, JSON.stringify(stats)), 1_000).unref();
}
