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

/** While a term is open, what makes it end early: the hold lapsing. */
type Term = Pick<LockHold, "held" | "lost">;

/**
 * Storage read cache for the active node (Vault's `cache_size`): an LRU of stored values (null for
 * absent keys) in front of `inner`, bounded by entries and bytes. It caches only inside a term, from
 * `begin()` to `end()`, and starts each term empty, since another node may have written in between;
 * outside a term (a standby, a sealed node) every call goes to storage. Writes go to storage first
 * and update the cache only once storage accepted them; a failed write drops the key. Lists are not
 * cached: no hot request lists (a KV v2 read does none), and a list cache must be invalidated on
 * every write below its prefix.
 */
export class CachedBackend implements Backend {
  readonly #inner: Backend;
  readonly #values: SizedLru<Uint8Array | null>;
  /** Reads in flight, so concurrent misses of one key share one storage round trip. */
  readonly #loads = new Map<string, Load>();
  /** Writes in flight per key, and the sequence number of the latest one to start. */
  readonly #writes = new Map<string, { count: number; latest: number }>();
  #writeSequence = 0;
  /** Bumped by begin() and end(): storage answers from an earlier term never fill the cache. */
  #termCount = 0;
  #term: Term | null = null;

  constructor(
    inner: Backend,
    limits: CacheLimits = { entries: DEFAULT_CACHE_ENTRIES, bytes: DEFAULT_CACHE_BYTES },
    /** Told of each read while caching: answered from the cache or not (for the metrics). */
    private readonly onLookup: (hit: boolean) => void = () => {},
  ) {
    this.#inner = inner;
    this.#values = new SizedLru(limits);
  }

  /** Entries cached now. */
  get size(): number {
    return this.#values.size;
  }

  /**
   * Starts caching, empty, for a term that lasts until `end()`, or until `term`'s hold is lost.
   * Without `term` (a node without HA is active whenever it is unsealed) until `end()` only.
   */
  begin(term?: Term): void {
    this.end();
    const current: Term = term ?? { held: () => true, lost: new AbortController().signal };
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
    this.#values.clear();
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
    const cached = this.#values.get(key);
    this.onLookup(cached !== undefined);
    if (cached !== undefined) return cached;
    const pending = this.#loads.get(key);
    if (pending) return pending.value;
    const load: Load = { value: this.#inner.get(key), cacheable: !this.#writes.has(key) };
    this.#loads.set(key, load);
    const termCount = this.#termCount;
    try {
      const value = await load.value;
      if (load.cacheable && termCount === this.#termCount) this.#values.set(key, value, entrySize(key, value));
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

  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
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
    this.#values.delete(key);
    const termCount = this.#termCount;
    let succeeded = false;
    try {
      await write();
      succeeded = true;
    } finally {
      if (--writes.count === 0) this.#writes.delete(key);
      const current = succeeded && writes.latest === sequence && termCount === this.#termCount && this.#caching();
      if (current) this.#values.set(key, value, entrySize(key, value));
      else this.#values.delete(key);
    }
  }
}

function copy(value: Uint8Array | null): Uint8Array | null {
  return value && value.slice();
}

/** Bytes an entry costs: its value, its key (UTF-16 in memory), and a little bookkeeping. */
function entrySize(key: string, value: Uint8Array | null): number {
  return (value?.byteLength ?? 0) + key.length * 2 + 64;
}
