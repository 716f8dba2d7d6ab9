import type { Logger } from "../sdk/logger.js";
import type { LogicalState } from "./state.js";

/** How often the active node revokes expired tokens (and their children). */
const EXPIRY_SWEEP_INTERVAL_MS = 5_000;
/** How often engines' scheduled work runs, as Vault's rollback manager calls PeriodicFunc. */
const PERIODIC_INTERVAL_MS = 60_000;

/**
 * The active node's scheduled work, from unseal to seal: Vault's expiration manager for tokens (an
 * expired token takes its whole tree with it, used or not), and the engines' and identity's
 * periodic work (key rotation). Does nothing while `active()` gives no state (a standby).
 */
export class Housekeeping {
  #timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    private readonly active: () => LogicalState | null,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#timers = [setInterval(() => void this.#sweep(), EXPIRY_SWEEP_INTERVAL_MS), setInterval(() => void this.#periodic(), PERIODIC_INTERVAL_MS)];
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  async #sweep(): Promise<void> {
    const state = this.active();
    if (!state) return;
    try {
      const revoked = await state.tokens.revokeExpired();
      if (revoked > 0) this.logger.info("revoked expired tokens", { count: revoked });
    } catch (error) {
      this.logger.warn("could not revoke expired tokens; trying again at the next sweep", { error: String(error) });
    }
  }

  async #periodic(): Promise<void> {
    const state = this.active();
    if (!state) return;
    const now = new Date(this.now());
    for (const { mount, error } of await state.mounts.periodic(now)) {
      this.logger.warn("a secrets engine's scheduled work failed; trying again in a minute", { mount, error: String(error) });
    }
    try {
      await state.identity.periodic(now);
    } catch (error) {
      this.logger.warn("identity's scheduled work failed; trying again in a minute", { error: String(error) });
    }
  }
}
