import type { Logger } from "../logger.js";
import { type Clock, type HALock, type LockHold, monotonicClock } from "../physical/ha.js";

/** Pause before contending again after a failed activation (others may try meanwhile). */
const ACTIVATION_RETRY_MS = 1_000;

export interface ElectionHooks {
  /** Prepares the node to serve as active under `hold`; throwing gives the term up. */
  becomeActive(hold: LockHold): Promise<void>;
  /** Runs synchronously the moment the hold is lost or released: nothing is served as active after it. */
  becomeStandby(reason: string): void;
}

/**
 * Contends for the HA lock while the node is unsealed: acquire → active → (lock lost, step-down)
 * → standby → contend again. After a step-down the node waits `cooldownMs` before contending, so
 * leadership actually moves.
 */
export class Election {
  readonly #lock: HALock;
  readonly #hooks: ElectionHooks;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #stopping = new AbortController();
  #hold: LockHold | null = null;
  #cooldownUntil = 0;
  #loop: Promise<void> | null = null;

  constructor(lock: HALock, hooks: ElectionHooks, logger: Logger, clock: Clock = monotonicClock) {
    this.#lock = lock;
    this.#hooks = hooks;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** The current hold while this node is active and the hold is certainly still ours. */
  get hold(): LockHold | null {
    return this.#hold?.held() ? this.#hold : null;
  }

  start(): void {
    this.#loop ??= this.#run().catch((error) => {
      if (!this.#stopping.signal.aborted) this.#logger.error("election stopped unexpectedly", { error: String(error) });
    });
  }

  /** Releases the lock (if held) and keeps away from it for `cooldownMs`. */
  async stepDown(cooldownMs: number): Promise<void> {
    this.#cooldownUntil = this.#clock.now() + cooldownMs;
    await this.#release();
  }

  /** Stops contending and releases the lock if held, so a standby can take over at once. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("election stopped"));
    await this.#release();
    await this.#loop;
  }

  async #release(): Promise<void> {
    const hold = this.#hold;
    if (!hold) return;
    try {
      await hold.release();
    } catch (error) {
      this.#logger.warn("could not release the HA lock; it will expire", { error: String(error) });
    }
  }

  async #run(): Promise<void> {
    const stopping = this.#stopping.signal;
    while (!stopping.aborted) {
      const wait = this.#cooldownUntil - this.#clock.now();
      if (wait > 0) await this.#clock.sleep(wait, stopping);
      const hold = await this.#lock.acquire(stopping);
      const lost = new Promise<void>((resolve) => {
        const onLost = () => {
          if (this.#hold === hold) {
            this.#hold = null;
            this.#hooks.becomeStandby(String((hold.lost.reason as Error)?.message ?? hold.lost.reason));
          }
          resolve();
        };
        if (hold.lost.aborted) onLost();
        else hold.lost.addEventListener("abort", onLost, { once: true });
      });
      this.#logger.info("acquired the HA lock", { epoch: hold.epoch });
      try {
        await this.#hooks.becomeActive(hold);
        // Stopped meanwhile (SIGTERM, seal): stop() found nothing to release, so give it up here.
        if (hold.held() && !stopping.aborted) this.#hold = hold;
      } catch (error) {
        this.#logger.error("could not become active; giving up the lock", { error: String(error) });
        // Storage refusing activation will likely refuse it again: don't spin on acquire → fail → release.
        this.#cooldownUntil = this.#clock.now() + ACTIVATION_RETRY_MS;
      }
      if (this.#hold !== hold) {
        await hold.release().catch(() => {});
        this.#hooks.becomeStandby("activation failed");
      }
      await lost;
    }
  }
}
