import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadServerConfig } from "../../adapters/node/server/config-file.js";
import { HclSyntaxError, hclToJson, parseHcl } from "../../src/sdk/hcl.js";

const FIXTURES = "test/config/fixtures/hcl";

const toJson = (source: string) => hclToJson(parseHcl(source));

function syntaxError(source: string): HclSyntaxError {
  try {
    toJson(source);
  } catch (error) {
    if (error instanceof HclSyntaxError) return error;
    throw error;
  }
  return expect.fail(`expected ${JSON.stringify(source)} to be refused`);
}

describe("HCL configuration files", () => {
  // Each *.json beside a fixture is what @cdktf/hcl2json (the converter this parser replaced) gave for it.
  it.each(readdirSync(FIXTURES).filter((name) => name.endsWith(".hcl")))("gives %s the JSON the former converter gave", (name) => {
    const expected: unknown = JSON.parse(readFileSync(join(FIXTURES, name.replace(/\.hcl$/, ".json")), "utf8"));
    expect(toJson(readFileSync(join(FIXTURES, name), "utf8"))).toEqual(expected);
  });

  it("loads a Vault-style server configuration end to end", async () => {
    const config = await loadServerConfig([join(FIXTURES, "server-raft-style.hcl")], {}, { dynamodb: { ha: true } });
    expect(config.storage).toEqual({ type: "dynamodb", options: expect.objectContaining({ table: "strongbox-data", read_capacity: "5" }) });
    expect(config.listeners.map((listener) => listener.address)).toEqual(["0.0.0.0:8200"]);
    expect(config.apiAddr).toBe("https://vault-a.internal.example:8200");
  });

  it("reads HCL 1 forms the HCL 2 converter refused: quoted keys and quoted keys of nested objects", () => {
    const source = `
listener "tcp" {
  custom_response_headers {
    "default" = { "Strict-Transport-Security" = ["max-age=31536000"] }
    "307" = { "X-Moved" = ["yes"] }
  }
}
"ui" = true
`;
    expect(toJson(source)).toEqual({
      listener: {
        tcp: [{ custom_response_headers: [{ default: { "Strict-Transport-Security": ["max-age=31536000"] }, "307": { "X-Moved": ["yes"] } }] }],
      },
      ui: true,
    });
  });

  it("nests blocks by every label and lists repeated blocks in order", () => {
    expect(toJson(`a "x" "y" { n = 1 }\na "x" "y" { n = 2 }\na "x" "z" {}\nb {}\nb { c {} }`)).toEqual({
      a: { x: { y: [{ n: 1 }, { n: 2 }], z: [{}] } },
      b: [{}, { c: [{}] }],
    });
  });

  it("keeps heredoc text, and drops only the common indentation with <<-", () => {
    expect(toJson("a = <<EOF\n  one\n\n two\nEOF\nb = <<-X\n\t\t  x\n\t\t    y\n\n\t\t  z\n\t\tX\nc = <<EOF\nEOF\n")).toEqual({
      a: "  one\n\n two\n",
      b: "x\n  y\n\nz\n",
      c: "",
    });
  });

  it("keeps a __proto__ key as data", () => {
    const json = toJson(`"__proto__" = { polluted = true }`);
    expect(Object.getPrototypeOf(json)).toBe(Object.prototype);
    expect(Object.keys(json)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ["a = 1\nb = 2\na = 3", 3, /"a" is already set on line 1/],
    ['listener "tcp" {}\nlistener = 1', 2, /"listener" is already set by a block/],
    ['seal "awskms" {}\nseal {}', 2, /"seal" blocks must all have the same number of labels/],
    ["a = <<EOF\nnever closed\n", 1, /unterminated heredoc/],
    ["a = <<EOF trailing\nx\nEOF", 1, /heredoc starts with <<MARKER/],
  ])("refuses %j, naming the line", (source, line, problem) => {
    const error = syntaxError(source);
    expect(error.line).toBe(line);
    expect(error.problem).toMatch(problem);
  });
});
