import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Housekeeping } from "../../src/logical/housekeeping.js";
import type { LogicalState } from "../../src/logical/state.js";
import { createLogger } from "../../src/sdk/logger.js";

/** A state whose token store, mounts and identity only count what the housekeeping asks of them. */
function countingState(failingMount = false) {
  const calls = { sweeps: 0, mounts: [] as Date[], identity: [] as Date[] };
  const state = {
    tokens: { revokeExpired: async () => (calls.sweeps++, 0) },
    mounts: {
      periodic: async (now: Date) => {
        calls.mounts.push(now);
        return failingMount ? [{ mount: "transit/", error: new Error("storage unavailable") }] : [];
      },
    },
    identity: { periodic: async (now: Date) => void calls.identity.push(now) },
  } as unknown as LogicalState;
  return { state, calls };
}

describe("the active node's housekeeping", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("sweeps expired tokens every few seconds and runs engines' and identity's scheduled work every minute, on the core's clock", async () => {
    const { state, calls } = countingState();
    const clock = Date.parse("2030-01-01T00:00:00Z");
    const housekeeping = new Housekeeping(
      () => state,
      () => clock,
      createLogger("error", () => {}),
    );
    housekeeping.start();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(calls.mounts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls.sweeps).toBe(12);
    expect(calls.mounts).toEqual([new Date(clock)]);
    expect(calls.identity).toEqual([new Date(clock)]);
    housekeeping.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls.mounts).toHaveLength(1);
  });

  it("does nothing on a standby, and logs a mount's failure without stopping identity's work", async () => {
    const { state, calls } = countingState(true);
    let active = false;
    const lines: string[] = [];
    const housekeeping = new Housekeeping(
      () => (active ? state : null),
      Date.now,
      createLogger("warn", (line) => lines.push(line)),
    );
    housekeeping.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toMatchObject({ sweeps: 0, mounts: [], identity: [] });
    active = true;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.identity).toHaveLength(1);
    expect(lines.join("\n")).toContain("transit/");
    expect(lines.join("\n")).toContain("storage unavailable");
    housekeeping.stop();
  });
});
