import { SizedLru } from "../physical/cache.js";

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
