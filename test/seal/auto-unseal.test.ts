import { afterEach, describe, expect, it, vi } from "vitest";
import { startAutoUnseal } from "../../adapters/node/server/auto-unseal.js";
import type { Core } from "../../src/core.js";
import { createLogger } from "../../src/sdk/logger.js";

const schedule = { uninitializedPollMs: 1_000, firstRetryMs: 1_000, maxRetryMs: 4_000 };

/** A core whose stored-key unseal answers from a script, one outcome per call (the last one repeats). */
function scriptedCore(outcomes: ("unsealed" | "uninitialized" | Error)[]) {
  let calls = 0;
  const core = {
    unsealWithStoredKey: vi.fn(async () => {
      const outcome = outcomes[Math.min(calls++, outcomes.length - 1)]!;
      if (outcome instanceof Error) throw outcome;
      return outcome;
    }),
  };
  return core;
}

function capturedLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger("info", (line) => lines.push(line)) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("startAutoUnseal", () => {
  it("retries a failing seal with doubling back-off up to the cap, logging each failure, until it unseals", async () => {
    vi.useFakeTimers();
    const kmsDown = new Error('awskms seal: KMS key "k" could not be used: TimeoutError: connect ECONNREFUSED');
    const core = scriptedCore([kmsDown, kmsDown, kmsDown, kmsDown, "unsealed"]);
    const { lines, logger } = capturedLogger();
    startAutoUnseal(core as unknown as Core, logger, schedule);
    await vi.advanceTimersByTimeAsync(0);
    for (const waitMs of [1_000, 2_000, 4_000, 4_000]) {
      expect(lines.at(-1)).toContain(`[ERROR] cannot unseal: the node stays sealed and tries again in ${waitMs / 1000}s: error=awskms seal`);
      const before = core.unsealWithStoredKey.mock.calls.length;
      await vi.advanceTimersByTimeAsync(waitMs - 1);
      expect(core.unsealWithStoredKey.mock.calls.length).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(core.unsealWithStoredKey.mock.calls.length).toBe(before + 1);
    }
    expect(lines.at(-1)).toContain("unsealed with the seal's stored key");
  });

  it("once unsealed it is done: a later sys/seal is not undone (the node waits for a restart or operator unseal)", async () => {
    vi.useFakeTimers();
    const core = scriptedCore(["uninitialized", "uninitialized", "unsealed"]);
    const { lines, logger } = capturedLogger();
    startAutoUnseal(core as unknown as Core, logger, schedule);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(core.unsealWithStoredKey).toHaveBeenCalledTimes(3);
    expect(lines.filter((line) => line.includes("not initialized yet"))).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(core.unsealWithStoredKey).toHaveBeenCalledTimes(3);
  });

  it("stop() ends the retries (node shutting down)", async () => {
    vi.useFakeTimers();
    const core = scriptedCore([new Error("down")]);
    const { logger } = capturedLogger();
    const loop = startAutoUnseal(core as unknown as Core, logger, schedule);
    await vi.advanceTimersByTimeAsync(0);
    loop.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(core.unsealWithStoredKey).toHaveBeenCalledTimes(1);
  });
});
