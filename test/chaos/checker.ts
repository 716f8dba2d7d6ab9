/**
 * Checks a chaos run's client history, per key. Each key has one writer writing increasing values
 * (0 = never written), so value order is real-time order of the writes:
 * - lost: after recovery, with the clients quiet, a key reads older than its last acknowledged write;
 * - stale: a read returns a value older than one already acknowledged, or already read, before
 *   the read began (linearizability for a register), or a value no write of that key produced
 *   by the time the read ended.
 * Writes whose outcome is unknown (retries ran out) may show up any time after they started.
 */

export interface WriteRecord {
  key: string;
  value: number;
  /** Wall-clock ms: the first attempt's start and the acknowledgement (null: outcome unknown). */
  start: number;
  end: number | null;
}

export interface ReadRecord {
  key: string;
  value: number;
  /** Wall-clock ms of the attempt that answered. */
  start: number;
  end: number;
}

export interface Violation {
  kind: "lost" | "stale" | "phantom";
  key: string;
  detail: string;
}

function byKey<T extends { key: string }>(records: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const record of records) {
    const group = groups.get(record.key);
    if (group) group.push(record);
    else groups.set(record.key, [record]);
  }
  return groups;
}

/** Stale and phantom reads in the workload's history. */
export function checkReads(writes: WriteRecord[], reads: ReadRecord[]): Violation[] {
  const violations: Violation[] = [];
  const writesByKey = byKey(writes);
  for (const [key, keyReads] of byKey(reads)) {
    const keyWrites = writesByKey.get(key) ?? [];
    const writeOf = new Map(keyWrites.map((w) => [w.value, w]));
    // Values known to be in place at a time: acknowledged writes and earlier reads, by completion.
    const known = [
      ...keyWrites.filter((w) => w.end !== null).map((w) => ({ at: w.end!, value: w.value, what: "acknowledged" })),
      ...keyReads.map((r) => ({ at: r.end, value: r.value, what: "read" })),
    ].sort((a, b) => a.at - b.at);
    let next = 0;
    let floor = { value: 0, at: -Infinity, what: "initial" };
    for (const read of [...keyReads].sort((a, b) => a.start - b.start)) {
      while (next < known.length && known[next]!.at < read.start) {
        if (known[next]!.value > floor.value) floor = known[next]!;
        next++;
      }
      const write = writeOf.get(read.value);
      if (read.value !== 0 && (!write || write.start > read.end)) {
        violations.push({ kind: "phantom", key, detail: `read ${read.value} at ${iso(read.start)}, which no write had started by ${iso(read.end)}` });
      } else if (read.value < floor.value) {
        violations.push({
          kind: "stale",
          key,
          detail: `read ${read.value} at ${iso(read.start)}..${iso(read.end)}, after ${floor.value} was ${floor.what} at ${iso(floor.at)}`,
        });
      }
    }
  }
  return violations;
}

/** Lost writes: `finalReads` were made with the clients quiet, after the cluster recovered. */
export function checkFinal(writes: WriteRecord[], finalReads: ReadRecord[]): Violation[] {
  const violations: Violation[] = [];
  const writesByKey = byKey(writes);
  for (const read of finalReads) {
    const acked = (writesByKey.get(read.key) ?? []).filter((w) => w.end !== null && w.end < read.start);
    const last = acked.reduce((max, w) => Math.max(max, w.value), 0);
    if (read.value < last) {
      violations.push({ kind: "lost", key: read.key, detail: `reads ${read.value} at ${iso(read.start)}; ${last} was acknowledged` });
    }
  }
  return violations;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
