import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Relative imports of each file (type-only imports included: they couple modules too), as repository paths. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) =>
      normalize(join(dirname(file), m[1]!)).replace(/\.js$/, ".ts"),
    );
    graph.set(file, targets.filter((target) => target !== file));
  }
  return graph;
}

/** Every import cycle, each as the files along it (empty when the graph is acyclic). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

const src = sourceFiles("src");

describe("runtime-agnostic core", () => {
  it("never imports node: modules or Node globals in src/", () => {
    const offenders = src.filter((file) => {
      const text = readFileSync(file, "utf8");
      return /from\s+["']node:|require\(|import\(["']node:|\bBuffer\.|\bprocess\./.test(text);
    });
    expect(offenders).toEqual([]);
  });
});

describe("module structure", () => {
  it("has no import cycle in src/ or adapters/", () => {
    expect(findCycles(importGraph([...src, ...sourceFiles("adapters")]))).toEqual([]);
  });

  it("finds a cycle when there is one (the checker itself works)", () => {
    const graph = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]], ["d.ts", ["a.ts"]]]);
    expect(findCycles(graph)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
  });

  it("keeps core.ts to the node's state machine and every src/ file readable", () => {
    const lines = (file: string) => readFileSync(file, "utf8").split("\n").length;
    expect(lines("src/core.ts")).toBeLessThan(300);
    expect(src.filter((file) => lines(file) > 450)).toEqual([]);
  });
});
