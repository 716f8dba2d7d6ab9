/**
 * The write generation that lets standbys cache what they read (`standby_reads`).
 *
 * The active stamps a fresh random value under GENERATION_KEY after every write of its term has
 * reached storage, and acknowledges the write only once the stamp is stored too. A standby reads
 * the stamp first, at the start of each read it answers, and keeps what it reads from storage only
 * for as long as the stamp stays the same. So any write acknowledged before a read began changed
 * the stamp before that read looked at it, and the standby started again from storage.
 *
 * An active without `standby_reads` does not stamp: it deletes the stamp before its first write of
 * the term, and a standby that finds no stamp caches nothing.
 */
import type { Backend } from "../physical/backend.js";

/** Physical key of the stamp: outside the barrier's entries, random bytes with nothing to hide. */
export const GENERATION_KEY = "core/standby-reads-generation";

/** The stamp a standby compares, or null when the active does not stamp (cache nothing). */
export async function readGeneration(physical: Pick<Backend, "get">): Promise<string | null> {
  const stamp = await physical.get(GENERATION_KEY);
  return stamp === null ? null : Array.from(stamp, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * `target` with every put and delete followed by a new stamp before it resolves. Writes that finish
 * while a stamp waits to start share it, so a burst of writes costs one stamp, not one each.
 */
export function stampingWrites(target: Backend): Backend {
  let waiting: Promise<void> | null = null;
  let last: Promise<void> = Promise.resolve();
  const stamp = (): Promise<void> => {
    // Joining a stamp is safe only before it starts: it must be written after our write was.
    if (waiting) return waiting;
    const next = last
      .catch(() => {})
      .then(() => {
        waiting = null;
        return target.put(GENERATION_KEY, crypto.getRandomValues(new Uint8Array(16)));
      });
    waiting = next;
    last = next;
    return next;
  };
  return {
    get: (key) => target.get(key),
    list: (prefix) => target.list(prefix),
    put: async (key, value) => {
      await target.put(key, value);
      await stamp();
    },
    delete: async (key) => {
      await target.delete(key);
      await stamp();
    },
  };
}
