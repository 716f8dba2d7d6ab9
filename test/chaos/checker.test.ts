import { describe, expect, it } from "vitest";
import { checkFinal, checkReads, type ReadRecord, type WriteRecord } from "./checker.js";
import { activeTerms, checkTerms, closestHandoverMs, type Incarnation } from "./transitions.js";

const write = (value: number, start: number, end: number | null): WriteRecord => ({ key: "k", value, start, end });
const read = (value: number, start: number, end: number): ReadRecord => ({ key: "k", value, start, end });

describe("chaos history checker", () => {
  const writes = [write(1, 0, 10), write(2, 20, 30), write(3, 40, null)];

  it("accepts reads of the latest acknowledged value, of a concurrent write, or of an unacknowledged one", () => {
    expect(checkReads(writes, [read(0, 1, 5), read(1, 25, 35), read(2, 25, 35), read(2, 31, 32), read(3, 45, 50), read(2, 41, 42)])).toEqual([]);
  });

  it("flags a read older than a value acknowledged or read before it began", () => {
    expect(checkReads(writes, [read(1, 31, 32)]).map((v) => v.kind)).toEqual(["stale"]);
    expect(checkReads(writes, [read(0, 11, 12)]).map((v) => v.kind)).toEqual(["stale"]);
    expect(checkReads(writes, [read(3, 45, 46), read(2, 47, 48)]).map((v) => v.kind)).toEqual(["stale"]);
  });

  it("flags a value no write had started by the end of the read", () => {
    expect(checkReads(writes, [read(3, 31, 35), read(9, 50, 51)]).map((v) => v.kind)).toEqual(["phantom", "phantom"]);
  });

  it("flags a final read below the last acknowledged value as lost, not above it", () => {
    expect(checkFinal(writes, [read(1, 100, 101)]).map((v) => v.kind)).toEqual(["lost"]);
    expect(checkFinal(writes, [read(2, 100, 101), read(3, 100, 101)])).toEqual([]);
  });
});

describe("transition log checker", () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const acquired = (ms: number, epoch: number) => `${at(ms)} [INFO]  core.ha: acquired the HA lock: epoch=${epoch}`;
  const stopped = (ms: number, reason: string) => `${at(ms)} [WARN]  core.ha: stopped active operation, entering standby mode: reason=${reason}`;
  const life = (node: number, lines: string[], extra: Partial<Incarnation> = {}): Incarnation => ({
    node,
    log: lines.join("\n"),
    skewMs: 0,
    exitedAt: null,
    frozen: [],
    ...extra,
  });
  const base = Date.UTC(2026, 0, 1);
  const check = (lives: Incarnation[]) => checkTerms(lives.flatMap((l) => activeTerms(l, base + 100_000)));

  it("accepts terms that follow each other, ended by a stop or by the process's death", () => {
    const result = check([
      life(0, [acquired(0, 1), stopped(1_000, "the lock was released")]),
      life(1, [acquired(1_200, 2)], { exitedAt: base + 3_000 }),
      life(2, [acquired(4_600, 3)]),
    ]);
    expect(result).toEqual({ dualActive: [], epochProblems: [] });
  });

  it("flags overlapping terms and epochs that do not increase", () => {
    const result = check([life(0, [acquired(0, 2), stopped(2_000, "x")]), life(1, [acquired(1_500, 2)])]);
    expect(result.dualActive).toMatchObject([{ nodes: [0, 1], overlapMs: 500 }]);
    expect(result.epochProblems).toHaveLength(1);
  });

  it("ends a term when its deadline passed, not when a paused node noticed, and skips frozen time", () => {
    const pausedLate = life(0, [acquired(0, 1), stopped(9_000, "the lock's renewal deadline passed 7000 ms ago")]);
    expect(check([pausedLate, life(1, [acquired(3_000, 2)])]).dualActive).toEqual([]);
    const frozen = life(0, [acquired(0, 1), stopped(9_000, "the lock record changed")], { frozen: [[base + 1_000, base + 8_990]] });
    expect(check([frozen, life(1, [acquired(3_000, 2)])]).dualActive).toMatchObject([{ overlapMs: 10 }]);
  });

  it("ends a term at the deadline when the takeover was noticed after it (the lease's own wording)", () => {
    const late = "the lock record changed: another node took the lock (noticed after the renewal deadline, which passed 1500 ms ago)";
    expect(check([life(0, [acquired(0, 1), stopped(3_000, late)]), life(1, [acquired(2_000, 2)])]).dualActive).toEqual([]);
  });

  it("takes a node's clock skew off its log timestamps", () => {
    const ahead = life(0, [acquired(30_000, 1), stopped(31_000, "x")], { skewMs: 30_000 });
    const terms = [ahead, life(1, [acquired(1_500, 2)])].flatMap((l) => activeTerms(l, base + 100_000));
    expect(checkTerms(terms).dualActive).toEqual([]);
    expect(closestHandoverMs(terms)).toBe(500);
  });
});
