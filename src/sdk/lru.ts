export interface CacheLimits {
  entries: number;
  bytes: number;
}

/**
 * A map bounded by entry count and by the summed `size` of its values, dropping the least recently
 * used. A read moves an entry to the young end only once it is in the older half (by insertions
 * since it was placed): moving costs two map updates, and hot entries are read on every request.
 */
export class SizedLru<V, K = string> {
  readonly #entries = new Map<K, { value: V; size: number; placed: number }>();
  #bytes = 0;
  /** Counts placements at the young end; an entry's `placed` is this count when it was put there. */
  #placements = 0;

  constructor(readonly limits: CacheLimits) {}

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (this.#placements - entry.placed >= this.#entries.size / 2) {
      this.#entries.delete(key);
      entry.placed = ++this.#placements;
      this.#entries.set(key, entry);
    }
    return entry.value;
  }

  /** Keeps `value` unless it alone is over the byte bound. */
  set(key: K, value: V, size: number): void {
    this.delete(key);
    if (size > this.limits.bytes || this.limits.entries < 1) return;
    this.#entries.set(key, { value, size, placed: ++this.#placements });
    this.#bytes += size;
    // A Map iterates in insertion order, so the first key is the least recently used.
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.limits.entries && this.#bytes <= this.limits.bytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.size;
    }
  }

  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}

/** A map that keeps at most `capacity` entries, dropping the least recently used (SizedLru without sizes). */
export class LruCache<K, V> {
  readonly #entries: SizedLru<V, K>;

  constructor(readonly capacity: number) {
    this.#entries = new SizedLru({ entries: capacity, bytes: Infinity });
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The value, now among the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  set(key: K, value: V): void {
    this.#entries.set(key, value, 0);
  }

  clear(): void {
    this.#entries.clear();
  }
}
