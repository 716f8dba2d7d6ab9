import { describe, expect, it } from "vitest";
import { SealedError } from "../../src/barrier/types.js";
import { errorFromThrown } from "../../src/http/respond.js";
import { silentLogger } from "../../src/sdk/logger.js";
import { FencedError } from "../../src/physical/ha.js";

describe("errors from storage and the barrier", () => {
  it("answers a fenced write with a retryable 503, not a 500", async () => {
    const response = errorFromThrown(new FencedError("lock no longer holds epoch 3"), silentLogger);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(((await response.json()) as { errors: string[] }).errors[0]).toMatch(/retry/);
  });

  it("hides unexpected errors behind a 500", async () => {
    const response = errorFromThrown(new Error("s3 secret detail"), silentLogger);
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("secret detail");
    expect(errorFromThrown(new SealedError(), silentLogger).status).toBe(503);
  });
});
