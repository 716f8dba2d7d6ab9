import type { Backend } from "./backend.js";
import type { LockHold } from "./ha.js";
import { type CacheLimits, SizedLru } from "../sdk/lru.js";

/** Vault's `cache_size` default: entries kept by the storage read cache. */
export const DEFAULT_CACHE_ENTRIES = 131_072;
/** A byte bound as well, since entries range from a few bytes to hundreds of KiB. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/** A read of storage that may fill the cache when it answers, unless a write to its key started meanwhile. */
interface Load {
  value: Promise<Uint8Array | null>;
  cacheable: boolean;
}

/**
 * The rule for how long what was read stays valid: from `begin()` until `end()`, or until `held()`
 * turns false or `lost` fires. The active's rule is its term (the lock hold: nobody else writes while
 * it lasts); a standby's is one write generation of the active (read-lease.ts: the active acknowledges
 * no write before a standby holding a read lease has heard of the next generation).
 */
export type Validity = Pick<LockHold, "held" | "lost">;

/**
 * The storage read cache (Vault's `cache_size`): an LRU of stored values (null for absent keys) and
 * of lists in front of `inner`, bounded by entries and bytes. It caches only while a validity period
 * runs, from `begin()` to `end()`, and starts each period empty; outside one (a sealed node, a
 * standby without a read lease) every call goes to storage. Writes go to storage first and update
 * the cache only once storage accepted them; a failed write drops the key; every write drops the
 * cached lists (any of them may name the key).
 */
export class CachedBackend implements Backend {
  readonly #inner: Backend;
  /** Values under "v" + key, lists under "l" + prefix: one bound for both. */
  readonly #entries: SizedLru<Uint8Array | null | string[]>;
  /** Prefixes whose lists are cached now, so a write can drop them all. */
  readonly #listed = new Set<string>();
  /** Bumped by every write: a list read across one never fills the cache. */
  #listEpoch = 0;
  /** Reads in flight, so concurrent misses of one key share one storage round trip. */
  readonly #loads = new Map<string, Load>();
  /** Writes in flight per key, and the sequence number of the latest one to start. */
  readonly #writes = new Map<string, { count: number; latest: number }>();
  #writeSequence = 0;
  /** Bumped by begin() and end(): storage answers from an earlier period never fill the cache. */
  #termCount = 0;
  #term: Validity | null = null;

  constructor(
    inner: Backend,
    limits: CacheLimits = { entries: DEFAULT_CACHE_ENTRIES, bytes: DEFAULT_CACHE_BYTES },
    /** Told of each read while caching: answered from the cache or not (for the metrics). */
    private readonly onLookup: (hit: boolean) => void = () => {},
  ) {
    this.#inner = inner;
    this.#entries = new SizedLru(limits);
  }

  /** Entries cached now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Starts caching, empty, for a period that lasts until `end()`, or until `validity` says it ended.
   * Without `validity` (a node without HA is active whenever it is unsealed) until `end()` only.
   */
  begin(validity?: Validity): void {
    this.end();
    const current: Validity = validity ?? { held: () => true, lost: new AbortController().signal };
    this.#term = current;
    current.lost.addEventListener(
      "abort",
      () => {
        if (this.#term === current) this.end();
      },
      { once: true },
    );
  }

  /** Stops caching and forgets every entry. */
  end(): void {
    this.#term = null;
    this.#termCount++;
    this.#entries.clear();
    this.#listed.clear();
    this.#loads.clear();
  }

  #caching(): boolean {
    if (this.#term?.held()) return true;
    if (this.#term) this.end();
    return false;
  }

  async get(key: string): Promise<Uint8Array | null> {
    return copy(await this.getShared(key));
  }

  /** The cached bytes themselves (see Backend.getShared): the same object for as long as they stay cached. */
  async getShared(key: string): Promise<Uint8Array | null> {
    if (!this.#caching()) return this.#inner.get(key);
    const cached = this.#entries.get(`v${key}`) as Uint8Array | null | undefined;
    this.onLookup(cached !== undefined);
    if (cached !== undefined) return cached;
    const pending = this.#loads.get(key);
    if (pending) return pending.value;
    const load: Load = { value: this.#inner.get(key), cacheable: !this.#writes.has(key) };
    this.#loads.set(key, load);
    const termCount = this.#termCount;
    try {
      const value = await load.value;
      if (load.cacheable && termCount === this.#termCount) this.#entries.set(`v${key}`, value, entrySize(key, value));
      return value;
    } finally {
      if (this.#loads.get(key) === load) this.#loads.delete(key);
    }
  }

  put(key: string, value: Uint8Array): Promise<void> {
    const stored = value.slice();
    return this.#write(key, () => this.#inner.put(key, stored), stored);
  }

  delete(key: string): Promise<void> {
    return this.#write(key, () => this.#inner.delete(key), null);
  }

  async list(prefix: string): Promise<string[]> {
    if (!this.#caching()) return this.#inner.list(prefix);
    const cached = this.#entries.get(`l${prefix}`) as string[] | undefined;
    if (cached) return [...cached];
    const [termCount, epoch] = [this.#termCount, this.#listEpoch];
    const keys = await this.#inner.list(prefix);
    if (termCount === this.#termCount && epoch === this.#listEpoch && this.#writes.size === 0) {
      this.#entries.set(`l${prefix}`, keys, keys.join("").length * 2 + prefix.length * 2 + 64);
      this.#listed.add(prefix);
    }
    return [...keys];
  }

  /**
   * Storage first; the cache learns the value only if the write succeeded, in the same term, and no
   * later write to the key started meanwhile (storage may apply overlapping writes in either order).
   */
  async #write(key: string, write: () => Promise<void>, value: Uint8Array | null): Promise<void> {
    const sequence = ++this.#writeSequence;
    const writes = this.#writes.get(key) ?? { count: 0, latest: 0 };
    writes.count++;
    writes.latest = sequence;
    this.#writes.set(key, writes);
    // Reads now in flight may answer with the old value: they must not fill the cache.
    const load = this.#loads.get(key);
    if (load) load.cacheable = false;
    this.#loads.delete(key);
    this.#entries.delete(`v${key}`);
    this.#forgetLists();
    const termCount = this.#termCount;
    let succeeded = false;
    try {
      await write();
      succeeded = true;
    } finally {
      if (--writes.count === 0) this.#writes.delete(key);
      this.#forgetLists();
      const current = succeeded && writes.latest === sequence && termCount === this.#termCount && this.#caching();
      if (current) this.#entries.set(`v${key}`, value, entrySize(key, value));
      else this.#entries.delete(`v${key}`);
    }
  }

  #forgetLists(): void {
    this.#listEpoch++;
    for (const prefix of this.#listed) this.#entries.delete(`l${prefix}`);
    this.#listed.clear();
  }
}

function copy(value: Uint8Array | null): Uint8Array | null {
  return value && value.slice();
}

/** Bytes an entry costs: its value, its key (UTF-16 in memory), and a little bookkeeping. */
function entrySize(key: string, value: Uint8Array | null): number {
  return (value?.byteLength ?? 0) + key.length * 2 + 64;
}
