import { describe, expect, it } from "vitest";
import { durationSeconds, formatDuration, formatTime, parseDurationMs } from "../../src/sdk/fields.js";

describe("kv field helpers", () => {
  it("reads configuration durations in milliseconds: decimal seconds or Go durations", () => {
    expect(parseDurationMs("1.5")).toBe(1500);
    expect(parseDurationMs("1m30s")).toBe(90_000);
    expect(parseDurationMs("250ms")).toBe(250);
    expect(parseDurationMs("5 seconds")).toBeNull();
    expect(parseDurationMs(`${"1".repeat(70)}s`)).toBeNull();
  });

  it("parses seconds and Go durations", () => {
    expect(durationSeconds(45)).toBe(45);
    expect(durationSeconds("45")).toBe(45);
    expect(durationSeconds("")).toBe(0);
    expect(durationSeconds("1h30m")).toBe(5400);
    expect(durationSeconds("1.5h")).toBe(5400);
    expect(durationSeconds("1500ms")).toBe(1);
    expect(durationSeconds("2d")).toBe(172_800);
    expect(durationSeconds("-1s")).toBe(-1);
    expect(durationSeconds("soon")).toBeUndefined();
    expect(durationSeconds("5 minutes")).toBeUndefined();
    expect(durationSeconds(true)).toBeUndefined();
  });

  it("prints durations as Go does", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(59)).toBe("59s");
    expect(formatDuration(90)).toBe("1m30s");
    expect(formatDuration(3600)).toBe("1h0m0s");
    expect(formatDuration(-1)).toBe("-1s");
  });

  it("prints times as Go's RFC3339Nano, without trailing zeros", () => {
    expect(formatTime(Date.parse("2018-03-22T02:24:06.945Z"))).toBe("2018-03-22T02:24:06.945Z");
    expect(formatTime(Date.parse("2018-03-22T02:24:06.940Z"))).toBe("2018-03-22T02:24:06.94Z");
    expect(formatTime(Date.parse("2018-03-22T02:24:06.000Z"))).toBe("2018-03-22T02:24:06Z");
  });
});
