/**
 * Each node's own record of when it acted as active, read from its log:
 *   `<ISO time> [INFO]  core.ha: acquired the HA lock: epoch=N` starts a term (before the node
 *   loads state and writes its advertisement, so before anything it does as active), and
 *   `<ISO time> [WARN]  core.ha: stopped active operation, entering standby mode: reason=…` ends it,
 *   or ends it earlier when the reason says the renewal deadline "passed N ms ago": the node checks
 *   its hold before serving each request and before each write (fenced storage refuses them too),
 *   so it acted on nothing after the deadline even if it noticed late (it was paused).
 * A term also ends when the process dies, and does not run while the process is frozen (SIGSTOP).
 * Timestamps come from the node's own wall clock, so a node's clock skew is taken off them.
 * Two terms of different processes that overlap are two actives at once.
 */

export interface Incarnation {
  /** Cluster node index; a restart is a new incarnation of the same node. */
  node: number;
  log: string;
  /** How far this process's wall clock is ahead of the real one. */
  skewMs: number;
  /** Real wall-clock ms when the process was seen to exit, else null. */
  exitedAt: number | null;
  /** Real wall-clock [SIGSTOP, SIGCONT] windows (SIGCONT null: still frozen). */
  frozen: [number, number | null][];
}

export interface ActiveTerm {
  node: number;
  epoch: number;
  start: number;
  /** Infinity while still active when observed. */
  end: number;
  endedBy: string;
  /** [start, end] minus the frozen windows. */
  segments: [number, number][];
}

export interface DualActive {
  nodes: [number, number];
  epochs: [number, number];
  overlapMs: number;
  from: string;
}

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) \[\w+\]\s+([\w.]+): (.*)$/;

export function activeTerms(incarnation: Incarnation, observedUntil: number): ActiveTerm[] {
  const terms: ActiveTerm[] = [];
  let open: { epoch: number; start: number } | null = null;
  const close = (end: number, endedBy: string) => {
    if (!open) return;
    terms.push({ node: incarnation.node, ...open, end, endedBy, segments: subtract([open.start, end], incarnation.frozen, observedUntil) });
    open = null;
  };
  for (const line of incarnation.log.split("\n")) {
    const match = LINE.exec(line);
    if (!match) continue;
    const at = Date.parse(match[1]!) - incarnation.skewMs;
    const [, , logger, message] = match;
    if (logger === "core.ha" && message!.startsWith("acquired the HA lock")) {
      close(at, "acquired again without a stop");
      open = { epoch: Number(/epoch=(\d+)/.exec(message!)?.[1] ?? NaN), start: at };
    } else if (logger === "core.ha" && message!.startsWith("stopped active operation")) {
      const lapsedMsAgo = Number(/passed (\d+) ms ago/.exec(message!)?.[1] ?? 0);
      close(at - lapsedMsAgo, /reason=(.*)$/.exec(message!)?.[1] ?? "stopped");
    }
  }
  close(incarnation.exitedAt ?? Infinity, incarnation.exitedAt === null ? "still active" : "process exited");
  return terms;
}

function subtract(interval: [number, number], frozen: [number, number | null][], observedUntil: number): [number, number][] {
  let segments: [number, number][] = [interval];
  for (const [from, to] of frozen) {
    const until = to ?? observedUntil;
    segments = segments.flatMap(([s, e]): [number, number][] =>
      until <= s || from >= e
        ? [[s, e]]
        : (
            [
              [s, from],
              [until, e],
            ] as [number, number][]
          ).filter(([a, b]) => b > a),
    );
  }
  return segments;
}

function overlapMs(a: ActiveTerm, b: ActiveTerm): number {
  let total = 0;
  for (const [s1, e1] of a.segments) {
    for (const [s2, e2] of b.segments) total += Math.max(0, Math.min(e1, e2) - Math.max(s1, s2));
  }
  return total;
}

/** Overlapping terms of different processes, and epochs that do not increase with time. */
export function checkTerms(terms: ActiveTerm[]): { dualActive: DualActive[]; epochProblems: string[] } {
  const dualActive: DualActive[] = [];
  for (let i = 0; i < terms.length; i++) {
    for (let j = i + 1; j < terms.length; j++) {
      const [a, b] = [terms[i]!, terms[j]!];
      const overlap = overlapMs(a, b);
      if (overlap > 0) {
        dualActive.push({
          nodes: [a.node, b.node],
          epochs: [a.epoch, b.epoch],
          overlapMs: Math.round(overlap),
          from: new Date(Math.max(a.start, b.start)).toISOString(),
        });
      }
    }
  }
  const epochProblems: string[] = [];
  const byStart = [...terms].sort((a, b) => a.start - b.start);
  for (let i = 1; i < byStart.length; i++) {
    const [before, after] = [byStart[i - 1]!, byStart[i]!];
    if (!(after.epoch > before.epoch)) {
      epochProblems.push(`node ${after.node} became active with epoch ${after.epoch} after node ${before.node} had epoch ${before.epoch}`);
    }
  }
  return { dualActive, epochProblems };
}

/**
 * The closest handover: the least time between a term's start and the end of every term before
 * it (negative: an overlap). Null with fewer than two terms.
 */
export function closestHandoverMs(terms: ActiveTerm[]): number | null {
  const byStart = [...terms].sort((a, b) => a.start - b.start);
  let closest: number | null = null;
  let latestEnd = -Infinity;
  for (const term of byStart) {
    if (latestEnd > -Infinity) closest = Math.min(closest ?? Infinity, term.start - latestEnd);
    latestEnd = Math.max(latestEnd, term.segments.at(-1)?.[1] ?? term.start);
  }
  return closest === null ? null : Math.round(closest);
}

/** Writes refused because the writer's hold on the lock had ended: by storage (fenced) or by the node itself. */
export function fencedWrites(log: string): number {
  return log.split("\n").filter((line) => line.includes("FencedError")).length;
}
