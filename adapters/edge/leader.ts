/**
 * Which node is active, as the lock record says, cached briefly per Worker isolate.
 *
 * - A found active is reused for `leaderCacheMs`. Any other answer (no active, DynamoDB failing)
 *   is reconsidered after at most RECHECK_MS, so a new active is picked up quickly.
 * - A holder renews by changing `RecordVersion` every few hundred milliseconds. If this isolate
 *   sees one version for longer than `holderTimeoutMs` on its own clock — timed from when its
 *   first read of that version returned, so never overestimated — the holder has stopped
 *   renewing and stepped down (it stops at two thirds of its lease), so redirecting to it would
 *   fail: answer "no active" until the record changes. No clock is compared with another's.
 * - When DynamoDB cannot be read, the last active found is used for up to `maxStaleMs` after the
 *   read that found it; after that, "no active".
 * Only plain data is shared between requests: each request that finds the cache expired does its
 * own read, since workerd ties a pending fetch to the request that started it.
 */
import { parseLockValue } from "../../src/ha/lock-value.js";
import type { EdgeConfig } from "./config.js";
import type { LockRecord, LockRecordReader } from "./lock-record.js";

export type Leader =
  | { active: true; apiAddr: URL }
  /** `changing`: the lock was released or its holder presumed down, so a new holder is expected shortly. */
  | { active: false; reason: string; changing?: boolean };

/** How soon an answer without an active node is reconsidered. */
const RECHECK_MS = 250;
/** How often a request waiting out a leadership change reads the lock record again. */
const CHANGE_POLL_MS = 100;
/** A read that takes longer is abandoned (its retry included); the cached leader may then serve. */
const READ_TIMEOUT_MS = 1000;

type Timings = Pick<EdgeConfig, "leaderCacheMs" | "holderTimeoutMs" | "maxStaleMs">;

export class LeaderTracker {
  #answer: Leader | null = null;
  #answerUntil = 0;
  #lastFound: { leader: Leader & { active: true }; readAt: number } | null = null;
  #version: { version: string; since: number } | null = null;
  #loggedBadValue = "";

  constructor(
    private readonly read: LockRecordReader,
    private readonly timings: Timings,
    private readonly now: () => number = Date.now,
  ) {}

  async current(): Promise<Leader> {
    if (this.#answer && this.now() < this.#answerUntil) return this.#answer;
    let record: LockRecord | null;
    try {
      record = await this.read(AbortSignal.timeout(READ_TIMEOUT_MS));
    } catch (error) {
      return this.#unreadable(error);
    }
    const readAt = this.now();
    const leader = this.#judge(record, readAt);
    // A holder judged gone must not come back as the fallback while DynamoDB is unreachable.
    this.#lastFound = leader.active ? { leader, readAt } : null;
    return this.#remember(leader, readAt + (leader.active ? this.timings.leaderCacheMs : Math.min(this.timings.leaderCacheMs, RECHECK_MS)));
  }

  /**
   * As `current()`, but during a leadership change (record released, holder presumed down) reads
   * the record again until a new holder appears or `waitMs` passes.
   */
  async settled(waitMs: number): Promise<Leader> {
    const deadline = this.now() + waitMs;
    for (;;) {
      const leader = await this.current();
      if (leader.active || !leader.changing || this.now() >= deadline) return leader;
      await new Promise((resolve) => setTimeout(resolve, CHANGE_POLL_MS));
      this.#answerUntil = 0;
    }
  }

  #unreadable(error: unknown): Leader {
    console.error(`strongbox edge: cannot read the HA lock record from DynamoDB: ${messageOf(error)}`);
    const now = this.now();
    const found = this.#lastFound;
    const staleUntil = found ? found.readAt + this.timings.maxStaleMs : 0;
    if (found && now < staleUntil) return this.#remember(found.leader, Math.min(now + RECHECK_MS, staleUntil));
    return this.#remember({ active: false, reason: "cannot read the HA lock record from DynamoDB; retry shortly" }, now + RECHECK_MS);
  }

  #remember(answer: Leader, until: number): Leader {
    this.#answer = answer;
    this.#answerUntil = until;
    return answer;
  }

  #judge(record: LockRecord | null, readAt: number): Leader {
    if (!record) return { active: false, reason: "no active node: no node has taken the HA lock yet" };
    if (record.released) return { active: false, changing: true, reason: "no active node: the HA lock was released and no node has taken it yet" };
    if (this.#version?.version !== record.version) {
      this.#version = { version: record.version, since: readAt };
    } else if (this.timings.holderTimeoutMs > 0 && readAt - this.#version.since > this.timings.holderTimeoutMs) {
      return {
        active: false,
        changing: true,
        reason: "no active node: the HA lock's holder stopped renewing it and is presumed down; a standby takes over shortly",
      };
    }
    const holder = parseLockValue(record.value);
    if (!holder) {
      if (this.#loggedBadValue !== record.value) {
        this.#loggedBadValue = record.value;
        console.error(`strongbox edge: the HA lock record's value is not {"id","api_addr"} with an http(s) api_addr: ${record.value.slice(0, 200)}`);
      }
      return { active: false, reason: "the active node's advertised address is unusable; see the edge's logs" };
    }
    return { active: true, apiAddr: holder.apiAddr };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
