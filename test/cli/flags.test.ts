import { describe, expect, it } from "vitest";
import { describeFlags, parseArgs, parseBool, UsageError } from "../../adapters/node/cli/flags.js";

const defs = {
  mount: { kind: "string", usage: "mount" },
  version: { kind: "int", usage: "version" },
  reset: { kind: "bool", usage: "reset" },
  config: { kind: "list", usage: "config files", placeholder: "file" },
  "key-shares": { kind: "int", usage: "shares", aliases: ["n"] },
} as const;

describe("parseArgs", () => {
  it("accepts Vault's single-dash and GNU double-dash spellings, with = or a separate value", () => {
    for (const argv of [["-mount=secret"], ["-mount", "secret"], ["--mount=secret"], ["--mount", "secret"]]) {
      expect(parseArgs(argv, defs).flags.mount).toBe("secret");
    }
  });

  it("leaves unset flags undefined and lists empty", () => {
    const { flags, args } = parseArgs([], defs);
    expect(flags).toEqual({ mount: undefined, version: undefined, reset: undefined, config: [], "key-shares": undefined });
    expect(args).toEqual([]);
  });

  it("parses integers, including negative ones given as a separate argument", () => {
    expect(parseArgs(["-version=3"], defs).flags.version).toBe(3);
    expect(parseArgs(["-version", "-1"], defs).flags.version).toBe(-1);
    expect(() => parseArgs(["-version=two"], defs)).toThrow(/invalid integer "two" for -version/);
    expect(() => parseArgs(["-version=1.5"], defs)).toThrow(UsageError);
  });

  it("treats booleans as Go does: bare means true, =value is strconv.ParseBool, never a separate value", () => {
    expect(parseArgs(["-reset"], defs).flags.reset).toBe(true);
    expect(parseArgs(["-reset=false"], defs).flags.reset).toBe(false);
    expect(parseArgs(["--reset=T"], defs).flags.reset).toBe(true);
    expect(parseArgs(["-reset", "false"], defs)).toEqual(expect.objectContaining({ args: ["false"] }));
    expect(() => parseArgs(["-reset=yes"], defs)).toThrow(/invalid boolean "yes" for -reset/);
  });

  it("collects repeated list flags in order", () => {
    expect(parseArgs(["-config=a.hcl", "--config", "b.hcl", "-config=c.json"], defs).flags.config).toEqual(["a.hcl", "b.hcl", "c.json"]);
  });

  it("accepts aliases under the canonical name", () => {
    expect(parseArgs(["-n=7"], defs).flags["key-shares"]).toBe(7);
  });

  it("keeps positionals (including key=value and a lone -) in order, with flags anywhere among them", () => {
    const { flags, args } = parseArgs(["secret/foo", "-mount=kv", "a=b", "-", "c=@file"], defs);
    expect(flags.mount).toBe("kv");
    expect(args).toEqual(["secret/foo", "a=b", "-", "c=@file"]);
  });

  it("stops at --, so later dashes are positionals", () => {
    expect(parseArgs(["-reset", "--", "-mount=x", "--y"], defs)).toEqual({
      flags: expect.objectContaining({ reset: true, mount: undefined }),
      args: ["-mount=x", "--y"],
    });
  });

  it("keeps everything after the first = in a value", () => {
    expect(parseArgs(["-mount=a=b=c"], defs).flags.mount).toBe("a=b=c");
  });

  it("names an unknown flag in a usage error", () => {
    expect(() => parseArgs(["-nope=1"], defs)).toThrow(new UsageError("unknown flag -nope"));
    expect(() => parseArgs(["--"], defs)).not.toThrow();
    expect(() => parseArgs(["---x"], defs)).toThrow(/unknown flag -/);
  });

  it("reports a flag missing its value", () => {
    expect(() => parseArgs(["-mount"], defs)).toThrow(/flag -mount needs a value/);
  });
});

describe("parseBool", () => {
  it("accepts exactly Go's spellings", () => {
    for (const yes of ["1", "t", "T", "true", "TRUE", "True"]) expect(parseBool(yes, "X")).toBe(true);
    for (const no of ["0", "f", "F", "false", "FALSE", "False"]) expect(parseBool(no, "X")).toBe(false);
    expect(() => parseBool("tRuE", "VAULT_SKIP_VERIFY")).toThrow(/VAULT_SKIP_VERIFY/);
  });
});

describe("describeFlags", () => {
  it("lists each flag with its placeholder, aliases and usage", () => {
    const text = describeFlags(defs);
    expect(text).toContain("  -mount=<string>\n      mount");
    expect(text).toContain("  -reset\n      reset");
    expect(text).toContain("  -config=<file>\n      config files");
    expect(text).toContain("  -key-shares=<int>, -n\n      shares");
  });
});
