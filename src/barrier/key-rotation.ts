import { decodeJson, encodeJson, rfc3339 } from "../sdk/encoding.js";
import type { SecurityBarrier } from "./types.js";

/**
 * AES-GCM with random 96-bit nonces must not encrypt much more than 2^32 messages under one key;
 * like Vault, rotate automatically at about 90 % of that.
 */
export const AUTO_ROTATION_THRESHOLD = 3_865_470_566;
/** Counts are persisted this often, so a crash loses at most this many from the estimate. */
const PERSIST_EVERY = 1_000;
const USAGE_PATH = "core/key-usage";
/** Go's zero time: what Vault shows when an install time is not known. */
const UNKNOWN_TIME = "0001-01-01T00:00:00Z";

/** sys/key-status: the active term, when it was installed and (an estimate of) how many encryptions it made. */
export interface KeyStatus {
  term: number;
  install_time: string;
  encryptions: number;
}

/**
 * The active node's bookkeeping of the barrier's active term: counts its encryptions, persists the
 * count, and rotates the term when the count reaches the threshold or an operator asks.
 */
export class KeyRotation {
  #usage: KeyStatus | null = null;
  #unpersisted = 0;
  #rotating: Promise<KeyStatus> | null = null;

  constructor(
    private readonly barrier: SecurityBarrier,
    private readonly now: () => number,
    private readonly threshold = AUTO_ROTATION_THRESHOLD,
  ) {}

  /** The stored usage of the active term (read again at each active term: another node may have rotated). */
  async status(): Promise<KeyStatus> {
    this.#unpersisted += this.barrier.takeEncryptions();
    const usage = await this.#load();
    return { ...usage, encryptions: usage.encryptions + this.#unpersisted };
  }

  /** Records the first term's install time, at init. */
  async initialize(): Promise<void> {
    this.#usage = { term: this.barrier.activeTerm(), install_time: rfc3339(new Date(this.now())), encryptions: 0 };
    await this.barrier.put(USAGE_PATH, encodeJson(this.#usage));
  }

  /** Adds a new term, makes it active and starts its count. */
  rotate(): Promise<KeyStatus> {
    this.#rotating ??= this.#rotate().finally(() => (this.#rotating = null));
    return this.#rotating;
  }

  /** Takes the barrier's new encryptions into the count; persists now and then; rotates at the threshold. */
  async countEncryptions(): Promise<void> {
    this.#unpersisted += this.barrier.takeEncryptions();
    if (this.#unpersisted < PERSIST_EVERY && this.#usage && this.#usage.encryptions + this.#unpersisted < this.threshold) return;
    const usage = await this.#load();
    usage.encryptions += this.#unpersisted;
    this.#unpersisted = 0;
    if (usage.encryptions >= this.threshold) await this.rotate();
    else await this.barrier.put(USAGE_PATH, encodeJson(usage));
  }

  /** Forgets what it knew: the next active term starts from storage. */
  reset(): void {
    this.#usage = null;
    this.#unpersisted = 0;
    this.barrier.takeEncryptions();
  }

  async #load(): Promise<KeyStatus> {
    if (this.#usage) return this.#usage;
    const bytes = await this.barrier.get(USAGE_PATH);
    const stored = bytes ? decodeJson<KeyStatus>(bytes) : null;
    const term = this.barrier.activeTerm();
    this.#usage = stored?.term === term ? stored : { term, install_time: UNKNOWN_TIME, encryptions: 0 };
    return this.#usage;
  }

  async #rotate(): Promise<KeyStatus> {
    const term = await this.barrier.rotate();
    this.barrier.takeEncryptions();
    this.#unpersisted = 0;
    const usage: KeyStatus = { term, install_time: rfc3339(new Date(this.now())), encryptions: 0 };
    this.#usage = usage;
    await this.barrier.put(USAGE_PATH, encodeJson(usage));
    return { ...usage };
  }
}
