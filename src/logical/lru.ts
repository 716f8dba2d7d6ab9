/** A map that keeps at most `capacity` entries, dropping the least recently used. */
export class LruCache<K, V> {
  readonly #entries = new Map<K, { value: V; placed: number }>();
  /** Counts placements at the young end; an entry's `placed` is this count when it was put there. */
  #placements = 0;

  constructor(readonly capacity: number) {}

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /**
   * The value, now among the most recently used; undefined when absent. It moves to the young end
   * only once it has drifted into the older half, so the entries every request reads cost one lookup.
   */
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

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, placed: ++this.#placements });
    // A Map iterates in insertion order, so the first key is the least recently used.
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  clear(): void {
    this.#entries.clear();
  }
}
