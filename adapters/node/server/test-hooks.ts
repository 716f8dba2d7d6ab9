import { readFileSync } from "node:fs";
import type { Logger } from "../../../src/sdk/logger.js";

/**
 * Test-only, and off unless `STRONGBOX_TEST_HOOKS` names a JSON file: on SIGUSR2 the main event
 * loop busy-waits for the file's `blockMs` (read at each signal), as a large request body being
 * parsed would hold it. Multi-node tests use it to stall one node's request work. Returns the
 * uninstaller.
 */
export function installTestHooks(env: Record<string, string | undefined>, logger: Logger): () => void {
  const file = env.STRONGBOX_TEST_HOOKS;
  if (!file) return () => {};
  const onSigusr2 = () => {
    const { blockMs } = JSON.parse(readFileSync(file, "utf8")) as { blockMs: number };
    logger.warn("test hook: blocking the main event loop", { block_ms: blockMs });
    const until = performance.now() + blockMs;
    while (performance.now() < until);
    logger.warn("test hook: main event loop unblocked");
  };
  process.on("SIGUSR2", onSigusr2);
  return () => process.off("SIGUSR2", onSigusr2);
}
