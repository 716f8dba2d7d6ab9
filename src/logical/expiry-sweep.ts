import type { Logger } from "../sdk/logger.js";
import type { TokenStore } from "./token-store.js";

/** How often the active node revokes expired tokens (and their children). */
const EXPIRY_SWEEP_INTERVAL_MS = 5_000;

/**
 * Vault's expiration manager for tokens: an expired token takes its whole tree with it, used or
 * not. Runs from unseal to seal; sweeps only while `activeTokens()` gives a store (the active node).
 */
export class ExpirySweep {
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly activeTokens: () => TokenStore | null,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.#sweep(), EXPIRY_SWEEP_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #sweep(): Promise<void> {
    const tokens = this.activeTokens();
    if (!tokens) return;
    try {
      const revoked = await tokens.revokeExpired();
      if (revoked > 0) this.logger.info("revoked expired tokens", { count: revoked });
    } catch (error) {
      this.logger.warn("could not revoke expired tokens; trying again at the next sweep", { error: String(error) });
    }
  }
}
