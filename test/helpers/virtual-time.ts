import type { Clock } from "../../src/physical/ha.js";

interface Timer {
  at: number;
  fire: () => void;
}

/** Lets every promise that can settle without a timer settle: microtasks all run before the next macrotask. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Time that moves only when the test moves it: sleeps on it are timers that fire in order of
 * their due time as the test advances, with every promise settled between two timers. Code that
 * waits only on this clock and on in-memory work runs the same way every time, and a test of
 * leases minutes long takes milliseconds.
 */
export class VirtualTime implements Clock {
  #now = 0;
  /** By due time; timers due at once fire in the order they were set. */
  #timers: Timer[] = [];
  readonly #afterEachStep: (() => void)[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.#timers = this.#timers.filter((other) => other !== timer);
        reject(signal!.reason);
      };
      const timer: Timer = {
        at: this.#now + Math.max(0, ms),
        fire: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const later = this.#timers.findIndex((other) => other.at > timer.at);
      this.#timers.splice(later < 0 ? this.#timers.length : later, 0, timer);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Runs `check` after every step (a timer fired and what it started settled): the only moments state can change. */
  afterEachStep(check: () => void): void {
    this.#afterEachStep.push(check);
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    await this.#runUntil(this.#now + ms, () => false);
  }

  /** Advances until `promise` settles, or by `ms` at most: how it settled by then. */
  async settledWithin<T>(promise: Promise<T>, ms: number): Promise<"resolved" | "rejected" | "pending"> {
    let state: "resolved" | "rejected" | "pending" = "pending";
    promise.then(
      () => (state = "resolved"),
      () => (state = "rejected"),
    );
    await this.#runUntil(this.#now + ms, () => state !== "pending");
    return state;
  }

  /** Advances until `promise` settles (a virtual hour at most, so a hang fails instead of spinning). */
  async until<T>(promise: Promise<T>): Promise<T> {
    if ((await this.settledWithin(promise, 3_600_000)) === "pending") throw new Error("still pending after a virtual hour");
    return promise;
  }

  async #runUntil(end: number, done: () => boolean): Promise<void> {
    for (;;) {
      await settle();
      for (const check of this.#afterEachStep) check();
      if (done()) return;
      const next = this.#timers[0];
      if (!next || next.at > end) {
        this.#now = end;
        await settle();
        return;
      }
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.fire();
    }
  }
}
