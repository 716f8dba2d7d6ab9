/** Rules for infra/Dockerfile, checked by a small parser (no Docker engine here to build it). */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions in order: comments and parser directives dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    pending += line.endsWith("\\") ? `${line.slice(0, -1)} ` : line;
    if (line.endsWith("\\")) continue;
    const match = /^\s*(\w+)\s+(.*)$/.exec(pending);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim().replace(/\s+/g, " ") });
    else if (pending.trim() !== "") throw new Error(`cannot parse Dockerfile line: ${pending}`);
    pending = "";
  }
  return instructions;
}

function stages(instructions: Instruction[]): Stage[] {
  const found: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [base, as, name] = instruction.args.replace(/--platform=\S+\s+/, "").split(" ");
      found.push({ base: base!, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      if (found.length === 0) throw new Error(`${instruction.keyword} before the first FROM`);
      found.at(-1)!.instructions.push(instruction);
    }
  }
  return found;
}

/** What a COPY takes from the build context (not from another stage): its sources, the destination dropped. */
function contextSources(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from=")).flatMap((i) => i.args.split(" ").slice(0, -1));
}

function tsFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return path.endsWith(".ts") ? [path] : [];
  return readdirSync(path).flatMap((name) => tsFiles(join(path, name)));
}

/** Specifiers of static and dynamic imports and re-exports, type-only ones included. */
function importedSpecifiers(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/(?:^\s*(?:import|export)\b[^;"'`]*?\bfrom\s*|^\s*import\s*|\bimport\(\s*)["']([^"']+)["']/gm)].map(
    (m) => m[1]!,
  );
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageName(specifier: string): string {
  return specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");
}

const all = stages(parseDockerfile(readFileSync("infra/Dockerfile", "utf8")));
const runtime = all.at(-1)!;
const inRuntime = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword);

describe("infra/Dockerfile", () => {
  it("builds in one stage and runs from another", () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all[0]!.name).toBe("build");
  });

  it("pins every base image to an exact Node.js release of a slim Debian variant", () => {
    const stageNames = new Set(all.map((stage) => stage.name));
    for (const { base } of all.filter((stage) => !stageNames.has(stage.base))) {
      // A tag like 24 or lts floats to new releases; latest floats to anything.
      expect(base).toMatch(/^node:\d+\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    }
    expect(new Set(all.map((stage) => stage.base)).size).toBe(1);
  });

  it("runs as a user other than root", () => {
    const user = inRuntime("USER").at(-1)?.args;
    expect(user).toBeDefined();
    expect(user!.split(":")[0]).not.toMatch(/^(root|0)$/);
  });

  it("installs production dependencies only in the runtime stage, from the lockfile", () => {
    const runs = inRuntime("RUN").map((i) => i.args);
    const installs = runs.filter((run) => /\bnpm (ci|install|i)\b/.test(run));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/\bnpm ci\b.*--omit=dev\b/);
  });

  it("takes only the compiled dist/ from the build stage", () => {
    const fromBuild = inRuntime("COPY").filter((i) => i.args.startsWith("--from="));
    expect(fromBuild.map((i) => i.args)).toEqual(["--from=build /src/dist ./dist"]);
  });

  it("compiles only production code: what it copies imports nothing outside it, least of all the local-cluster launcher", () => {
    const sources = contextSources(all[0]!).filter((source) => existsSync(source) && statSync(source).isDirectory());
    expect(sources).toEqual(expect.arrayContaining(["src", "adapters/node"]));
    expect(sources.filter((source) => /^(tools|test|bench)\b/.test(source))).toEqual([]);
    const inImage = (path: string) => sources.some((source) => path === source || path.startsWith(`${source}/`));
    const escaping = sources
      .flatMap(tsFiles)
      .flatMap((file) =>
        importedSpecifiers(file)
          .filter((s) => s.startsWith("."))
          .map((s) => `${file} imports ${normalize(join(dirname(file), s))}`),
      )
      .filter((edge) => !inImage(edge.split(" imports ")[1]!));
    expect(escaping).toEqual([]);
  });

  it("keeps development-only code out of the build context (Dockerfile.dockerignore)", () => {
    const rules = readFileSync("infra/Dockerfile.dockerignore", "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"));
    expect(rules[0]).toBe("*");
    expect(rules.filter((rule) => /^!(tools|test|bench|dev)\b/.test(rule))).toEqual([]);
  });

  it("lists in dependencies exactly the packages the image's code imports (the rest is omitted by --omit=dev)", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const imported = new Set(
      contextSources(all[0]!)
        .filter((source) => existsSync(source) && statSync(source).isDirectory())
        .flatMap(tsFiles)
        .flatMap(importedSpecifiers)
        .filter((s) => !s.startsWith(".") && !s.startsWith("node:"))
        .map(packageName),
    );
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...imported].sort());
    // The launcher's DynamoDB stand-in: a development tool, never in the image.
    expect(Object.keys(pkg.devDependencies)).toContain("dynalite");
  });

  it("never ADDs anything, least of all from a URL", () => {
    const adds = all.flatMap((stage) => stage.instructions).filter((i) => i.keyword === "ADD");
    expect(adds.filter((i) => /\b(https?|git):\/\/|git@/.test(i.args))).toEqual([]);
    expect(adds).toEqual([]);
  });

  it("exposes the API and cluster ports", () => {
    const ports = inRuntime("EXPOSE").flatMap((i) => i.args.split(" "));
    expect(ports).toEqual(expect.arrayContaining(["8200", "8201"]));
  });

  it("starts through the entrypoint script, in exec form", () => {
    const [entrypoint] = inRuntime("ENTRYPOINT");
    expect(JSON.parse(entrypoint!.args)).toEqual(["node", "/app/infra/entrypoint.mjs"]);
    expect(inRuntime("COPY").map((i) => i.args)).toContain("infra/entrypoint.mjs ./infra/entrypoint.mjs");
    expect(existsSync("infra/entrypoint.mjs")).toBe(true);
  });

  it("bakes in no secrets", () => {
    const settings = all.flatMap((stage) => stage.instructions).filter((i) => i.keyword === "ENV" || i.keyword === "ARG");
    for (const { args } of settings) expect(args).not.toMatch(/SECRET|TOKEN|PASSWORD|ACCESS_KEY|PRIVATE|UNSEAL|CREDENTIAL/i);
    const copied = all
      .flatMap((stage) => stage.instructions)
      .filter((i) => i.keyword === "COPY")
      .map((i) => i.args);
    for (const args of copied) expect(args).not.toMatch(/\.env\b|\.pem\b|\.key\b|credentials|\.aws/);
  });
});

describe("the parser", () => {
  it("joins continuation lines and splits stages", () => {
    const parsed = stages(parseDockerfile("# syntax=docker/dockerfile:1\nFROM a:1 AS one\nRUN x \\\n    && y\n# note\nFROM one\nUSER 1000\n"));
    expect(parsed).toEqual([
      { base: "a:1", name: "one", instructions: [{ keyword: "RUN", args: "x && y" }] },
      { base: "one", name: undefined, instructions: [{ keyword: "USER", args: "1000" }] },
    ]);
  });
});
