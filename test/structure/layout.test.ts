import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { LAYERS, layerOf } from "./layers.js";

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
    graph.set(
      file,
      targets.filter((target) => target !== file),
    );
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

/** Imports between layers that the table does not allow, and files outside every layer. */
function layerViolations(graph: Map<string, string[]>, layers = LAYERS): string[] {
  const allowed = new Map(layers.map(({ layer, mayImport }) => [layer, mayImport]));
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    const mayImport = allowed.get(from);
    if (!mayImport) {
      violations.push(`${file} is in no layer`);
      continue;
    }
    for (const target of targets) {
      const to = layerOf(target);
      if (target.startsWith("src/") && to !== from && !mayImport.includes(to))
        violations.push(`${file} imports ${target}: ${from} may import ${mayImport.join(", ") || "nothing"}`);
    }
  }
  return violations;
}

/** The graph of layers: an edge wherever a file of one imports a file of another. */
function layerGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const layers = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    const edges = layers.get(from) ?? new Set();
    for (const target of targets) if (layerOf(target) !== from) edges.add(layerOf(target));
    layers.set(from, edges);
  }
  return new Map([...layers].map(([layer, edges]) => [layer, [...edges]]));
}

/** README's Architecture table: for each `src/` row, the layers its "may import" column names. */
function readmeMayImport(): Map<string, string[]> {
  const readme = readFileSync("README.md", "utf8");
  const section = readme.slice(readme.indexOf("## Architecture"), readme.indexOf("\n## ", readme.indexOf("## Architecture") + 1));
  const names = new Set(LAYERS.map(({ layer }) => layer));
  const rows = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const folder = /^`src\/([^`/]+)\/?`$/.exec(cells[1] ?? "")?.[1];
    if (!folder) continue;
    const named = [...(cells[3] ?? "").matchAll(/`([^`]+?)\/?`/g)].map((m) => m[1]!).filter((name) => names.has(name));
    rows.set(folder, named.sort());
  }
  return rows;
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
  it("has no import cycle in src/, adapters/ or tools/", () => {
    expect(findCycles(importGraph([...src, ...sourceFiles("adapters"), ...sourceFiles("tools")]))).toEqual([]);
  });

  it("finds a cycle when there is one (the checker itself works)", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", ["a.ts"]],
    ]);
    expect(findCycles(graph)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
  });

  it("lets each layer import only layers listed before it in the table (so no upward import, no layer cycle)", () => {
    const seen = new Set<string>();
    for (const { layer, mayImport } of LAYERS) {
      expect(
        mayImport.filter((lower) => !seen.has(lower)),
        `${layer} may import`,
      ).toEqual([]);
      seen.add(layer);
    }
  });

  it("imports across layers only as the table allows, and every src/ file is in a layer", () => {
    expect(layerViolations(importGraph(src))).toEqual([]);
  });

  it("has no cycle between layers", () => {
    expect(findCycles(layerGraph(importGraph(src)))).toEqual([]);
  });

  it("reports an upward import and a file outside every layer (the checker itself works)", () => {
    const graph = new Map([
      ["src/sdk/types.ts", ["src/logical/mounts.ts"]],
      ["src/logical/mounts.ts", ["src/sdk/types.ts"]],
      ["src/extra/thing.ts", []],
    ]);
    expect(layerViolations(graph)).toEqual(["src/sdk/types.ts imports src/logical/mounts.ts: sdk may import nothing", "src/extra/thing.ts is in no layer"]);
    expect(findCycles(layerGraph(graph))).toEqual([["sdk", "logical", "sdk"]]);
  });

  it('matches README\'s Architecture table, whose "may import" column names the same layers', () => {
    const expected = new Map(LAYERS.map(({ layer, mayImport }) => [layer, [...mayImport].sort()]));
    expect(readmeMayImport()).toEqual(expected);
  });

  it("keeps core.ts to the node's state machine and every src/ file readable", () => {
    const lines = (file: string) => readFileSync(file, "utf8").split("\n").length;
    expect(lines("src/core.ts")).toBeLessThan(300);
    expect(src.filter((file) => lines(file) > 450)).toEqual([]);
  });
});
