import type { Logger } from "../sdk/logger.js";
import { type Clock, type HALock, type LockHold, monotonicClock } from "../physical/ha.js";

/** Pause before contending again after a failed activation (others may try meanwhile). */
const ACTIVATION_RETRY_MS = 1_000;

/** What a node in its step-down cool-down watches, so the cluster is never left without an active. */
export interface LockWatch {
  /** The lease: how long the lock must look free before the cool-down is cut short. */
  leaseMs: number;
  /** Whether the lock record is free (released or never taken) right now. */
  lockFree(): Promise<boolean>;
}

export interface ElectionHooks {
  /** Prepares the node to serve as active under `hold`; throwing gives the term up. */
  becomeActive(hold: LockHold): Promise<void>;
  /** Runs synchronously once the node is active: `becomeActive` succeeded and the hold is recorded. */
  active(): void;
  /** Runs synchronously the moment the hold is lost or released: nothing is served as active after it. */
  becomeStandby(reason: string): void;
}

/**
 * Contends for the HA lock while the node is unsealed: acquire → active → (lock lost, step-down)
 * → standby → contend again. After a step-down the node waits `cooldownMs` before contending, so
 * leadership actually moves — unless the lock stays free for a full lease meanwhile: then every
 * node may be cooling down (several step-downs in a row), and it contends anyway.
 */
export class Election {
  readonly #lock: HALock;
  readonly #hooks: ElectionHooks;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #watch: LockWatch;
  readonly #stopping = new AbortController();
  #hold: LockHold | null = null;
  #cooldownUntil = 0;
  #loop: Promise<void> | null = null;

  constructor(lock: HALock, hooks: ElectionHooks, watch: LockWatch, logger: Logger, clock: Clock = monotonicClock) {
    this.#lock = lock;
    this.#watch = watch;
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

  /**
   * Waits until the cool-down ends, or until this node has seen the lock free for a full lease on
   * its own clock (looking at it a few times per lease): nobody else is taking it.
   */
  async #sitOutCooldown(stopping: AbortSignal): Promise<void> {
    const clock = this.#clock;
    const { leaseMs } = this.#watch;
    let freeSince: number | null = null;
    for (;;) {
      const now = clock.now();
      if (now >= this.#cooldownUntil) return;
      if (freeSince !== null && now - freeSince >= leaseMs) {
        this.#logger.info("the HA lock stayed free for a full lease; contending before the step-down cool-down ends");
        return;
      }
      await clock.sleep(Math.min(leaseMs / 4, this.#cooldownUntil - now), stopping);
      // A store that does not answer tells us nothing: start counting again.
      const free = await this.#watch.lockFree().catch(() => false);
      freeSince = free ? (freeSince ?? clock.now()) : null;
    }
  }

  async #run(): Promise<void> {
    const stopping = this.#stopping.signal;
    while (!stopping.aborted) {
      await this.#sitOutCooldown(stopping);
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
        if (hold.held() && !stopping.aborted) {
          this.#hold = hold;
          this.#hooks.active();
        }
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
