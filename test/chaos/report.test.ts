import { describe, expect, it } from "vitest";
import { resultTable } from "./report.js";
import type { ScenarioResult } from "./run.js";

describe("chaos report", () => {
  it("reports each scenario's failed client requests, count and share, next to lost writes", () => {
    const result = {
      scenario: "active-killed",
      storage: "s3",
      rounds: 1,
      ackedWrites: 90,
      reads: 100,
      requests: 200,
      failedRequests: 7,
      lost: 0,
      stale: 0,
      dualActive: [],
      epochProblems: [],
      closestHandoverMs: 1_200,
      fencedWrites: 0,
      recoveryP50Ms: 1_500,
      recoveryMaxMs: 1_500,
      slowRounds: 0,
    } as unknown as ScenarioResult;
    const [header, , row] = resultTable([result], 5_000)
      .split("\n")
      .map((line) => line.split(" | "));
    expect(row![header!.indexOf("failed requests")]).toBe("7 of 200 (3.5 %)");
    expect(header!.indexOf("failed requests")).toBe(header!.indexOf("lost") - 1);
  });
});
