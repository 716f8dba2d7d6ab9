import type { Core } from "../../../src/core.js";
import type { Logger } from "../../../src/sdk/logger.js";
import { SealMigrationPendingError } from "../../../src/seal/migration.js";

export interface AutoUnsealSchedule {
  /** How often to look again while the cluster is not initialized (another node may run `operator init`). */
  uninitializedPollMs: number;
  /** The first wait after a failure; it doubles after each failure, up to `maxRetryMs`. */
  firstRetryMs: number;
  maxRetryMs: number;
}

const DEFAULT_SCHEDULE: AutoUnsealSchedule = { uninitializedPollMs: 1_000, firstRetryMs: 1_000, maxRetryMs: 15_000 };

/**
 * Unseals the node with its seal's stored key, once: at start, retrying with back-off while the seal
 * cannot (KMS unreachable or refusing) and the node stays sealed. It does not run again after
 * `sys/seal`: as in Vault, a sealed node then waits for a restart or `operator unseal`. Nor does it
 * in seal migration mode: the operator unseals with the old seal's keys and `-migrate`.
 */
export function startAutoUnseal(core: Core, logger: Logger, schedule = DEFAULT_SCHEDULE): { stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let retryMs = schedule.firstRetryMs;
  let saidUninitialized = false;
  const attempt = async () => {
    try {
      if ((await core.unsealWithStoredKey()) === "unsealed") {
        logger.info("unsealed with the seal's stored key");
        return;
      }
      if (!saidUninitialized) logger.info("not initialized yet; this node unseals by itself once `operator init` has run");
      saidUninitialized = true;
      next(schedule.uninitializedPollMs);
    } catch (error) {
      if (error instanceof SealMigrationPendingError) {
        logger.warn(`entering seal migration mode; this node does not unseal by itself: ${error.message}`);
        return;
      }
      logger.error(`cannot unseal: the node stays sealed and tries again in ${retryMs / 1000}s`, { error: (error as Error).message });
      next(retryMs);
      retryMs = Math.min(retryMs * 2, schedule.maxRetryMs);
    }
  };
  const next = (delayMs: number) => {
    if (!stopped) timer = setTimeout(() => void attempt(), delayMs);
  };
  void attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
