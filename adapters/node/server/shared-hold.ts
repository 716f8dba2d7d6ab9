/**
 * The lock worker's hold, as the main thread must see it synchronously, in memory both threads
 * share: which acquisition holds the lock and until when it is certainly ours; and, the other way,
 * when the main thread's event loop last ran.
 *
 * Times are `process.hrtime.bigint()` nanoseconds: CLOCK_MONOTONIC, one clock for every thread of
 * the process. `performance.now()` would not do: each thread counts it from its own start.
 */
const HOLD_ID = 0;
const CERTAIN_UNTIL = 1;
const MAIN_BEAT = 2;
const SLOTS = 3;

const now = () => process.hrtime.bigint();
const NS_PER_MS = 1_000_000;

export class SharedHold {
  readonly buffer: SharedArrayBuffer;
  readonly #slots: BigInt64Array;

  constructor(buffer = new SharedArrayBuffer(SLOTS * BigInt64Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.#slots = new BigInt64Array(buffer);
  }

  /** Worker: acquisition `id` holds the lock, certainly for `certainForMs()` more. */
  holding(id: number, certainForMs: () => number): void {
    // The time is read before the hold's own clock is, so the deadline errs early, never late.
    const at = now();
    const until = at + BigInt(Math.floor(certainForMs() * NS_PER_MS));
    Atomics.store(this.#slots, HOLD_ID, BigInt(id));
    Atomics.store(this.#slots, CERTAIN_UNTIL, until);
  }

  /**
   * Worker (or the main thread, when the worker is gone): no hold is certain any more. The end
   * stays recorded (the deadline, if that came first) so a late reader can tell when it was.
   */
  lost(): void {
    const until = Atomics.load(this.#slots, CERTAIN_UNTIL);
    const at = now();
    // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.min cannot take
    Atomics.store(this.#slots, CERTAIN_UNTIL, until < at ? until : at);
  }

  /** Main thread: how much longer acquisition `id` certainly holds the lock; 0 when it may not. */
  certainForMs(id: number): number {
    // The deadline first: a deadline written for a later acquisition is stored after its id, so
    // reading it here means the id read next is that later one, not `id`.
    const until = Atomics.load(this.#slots, CERTAIN_UNTIL);
    if (Atomics.load(this.#slots, HOLD_ID) !== BigInt(id)) return 0;
    const remaining = until - now();
    return remaining > 0n ? Number(remaining) / NS_PER_MS : 0;
  }

  /** Main thread: how long ago acquisition `id`'s certainty ended; null if it is not that acquisition's. */
  endedMsAgo(id: number): number | null {
    const until = Atomics.load(this.#slots, CERTAIN_UNTIL);
    if (Atomics.load(this.#slots, HOLD_ID) !== BigInt(id)) return null;
    return Math.max(0, Number(now() - until) / NS_PER_MS);
  }

  /** Main thread: its event loop is running. */
  beat(): void {
    Atomics.store(this.#slots, MAIN_BEAT, now());
  }

  /** Worker: how long since the main thread's event loop last ran. */
  mainSilentForMs(): number {
    return Number(now() - Atomics.load(this.#slots, MAIN_BEAT)) / NS_PER_MS;
  }
}
