import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("runtime-agnostic core", () => {
  it("never imports node: modules or Node globals in src/", () => {
    const offenders = sourceFiles("src").filter((file) => {
      const text = readFileSync(file, "utf8");
      return /from\s+["']node:|require\(|import\(["']node:|\bBuffer\.|\bprocess\./.test(text);
    });
    expect(offenders).toEqual([]);
  });
});
