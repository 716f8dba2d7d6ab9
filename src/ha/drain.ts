/**
 * How long a departing active waits for the requests already inside its router before it lets go
 * of the lock anyway. Requests still running then are cut off by fencing (their writes fail).
 */
export const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Counts the requests inside the router, so a departing active (step-down, seal, SIGTERM) can let
 * them finish under its lock before releasing it: none is cut off by fencing.
 */
export class InFlightRequests {
  #count = 0;
  readonly #waiters = new Set<() => void>();

  get count(): number {
    return this.#count;
  }

  async track<T>(work: () => Promise<T>): Promise<T> {
    this.#count++;
    try {
      return await work();
    } finally {
      this.#count--;
      for (const wake of this.#waiters) wake();
    }
  }

  /**
   * Resolves true once no more than `own` requests are in flight (a step-down asked for over the
   * API is itself one of them), or false after `timeoutMs`.
   */
  settled(timeoutMs: number, own = 0): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.#count > own) return;
        finish(true);
      };
      const finish = (done: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(done);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}
