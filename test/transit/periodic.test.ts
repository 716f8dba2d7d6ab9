import { describe, expect, it } from "vitest";
import { transitEngine } from "../../src/builtin/transit/index.js";
import type { LogicalRequest } from "../../src/sdk/types.js";
import { memoryStorage, testMount } from "../helpers/memory-storage.js";

const HOUR = 3600_000;

describe("transit's periodic work", () => {
  it("rotates keys whose auto_rotate_period has passed, once, and leaves the others alone", async () => {
    const engine = transitEngine();
    const storage = memoryStorage();
    const mount = testMount("transit");
    const call = async (operation: LogicalRequest["operation"], path: string, data: Record<string, unknown> = {}) =>
      (await engine.handle({ operation, path, data, storage, mount }))?.data as Record<string, any>;
    await call("update", "keys/hourly", { auto_rotate_period: "1h" });
    await call("update", "keys/manual");
    await call("update", "keys/daily", { auto_rotate_period: "24h" });

    await engine.periodic!(storage, mount, new Date(Date.now() + 30 * 60_000));
    expect((await call("read", "keys/hourly")).latest_version).toBe(1);

    const later = new Date(Date.now() + 2 * HOUR);
    await engine.periodic!(storage, mount, later);
    await engine.periodic!(storage, mount, later);
    const hourly = await call("read", "keys/hourly");
    expect(hourly.latest_version).toBe(2);
    expect(hourly.keys["2"]).toBe(Math.floor(later.getTime() / 1000));
    expect((await call("read", "keys/manual")).latest_version).toBe(1);
    expect((await call("read", "keys/daily")).latest_version).toBe(1);
  });
});
