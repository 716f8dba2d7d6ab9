import { readdirSync } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import { CHAOS_FILES, CLUSTER_FILES, STORE_FILES } from "../tiers.js";

const testFiles = readdirSync("test", { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".test.ts"))
  .map((file) => `test/${file}`);

/** test/tiers.ts's patterns use `*` within a file name only. */
const matches = (pattern: string, file: string) => new RegExp(`^${pattern.replace(/[.]/g, "\\.").replace(/\*/g, "[^/]*")}$`).test(file);

describe("test tiers", () => {
  it("fails a unit test that injects a service, naming the tier", () => {
    expect(inject("tier")).toBe("unit");
    expect(() => inject("dynamodbEndpoint")).toThrow(/inject\("dynamodbEndpoint"\): the unit tier starts no such service/);
  });

  it("lists only patterns that match a test file, each in one tier", () => {
    const patterns = [...STORE_FILES, ...CLUSTER_FILES, ...CHAOS_FILES];
    expect(patterns.filter((pattern) => !testFiles.some((file) => matches(pattern, file)))).toEqual([]);
    const listedTwice = testFiles.filter((file) => patterns.filter((pattern) => matches(pattern, file)).length > 1);
    expect(listedTwice).toEqual([]);
  });
});
