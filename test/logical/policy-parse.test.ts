import { describe, expect, it } from "vitest";
import { HclSyntaxError, parseHcl } from "../../src/sdk/hcl.js";
import { CAPABILITY_BITS as C, parsePolicy, PolicyParseError } from "../../src/logical/policy/policy.js";

describe("HCL subset parser", () => {
  it("parses attributes, labelled blocks, lists, objects, numbers and booleans", () => {
    const items = parseHcl(`
      name = "dev"
      path "secret/*" {
        capabilities = ["read", "list",]
        nested = { a = 1, b = true }
        n = -2.5
      }
    `);
    expect(items).toMatchObject([
      { key: "name", labels: [], value: "dev", line: 2 },
      {
        key: "path",
        labels: ["secret/*"],
        line: 3,
        value: {
          kind: "object",
          items: [
            { key: "capabilities", value: ["read", "list"] },
            {
              key: "nested",
              value: {
                kind: "object",
                items: [
                  { key: "a", value: 1 },
                  { key: "b", value: true },
                ],
              },
            },
            { key: "n", value: -2.5 },
          ],
        },
      },
    ]);
  });

  it("skips #, // and /* */ comments and keeps line numbers right", () => {
    const items = parseHcl(`# hash\n// slashes\n/* block\n spanning */ a = "x" # trailing\nb = "y"`);
    expect(items.map((i) => [i.key, i.line])).toEqual([
      ["a", 4],
      ["b", 5],
    ]);
  });

  it("decodes string escapes and keeps ${...} literal", () => {
    expect(parseHcl('a = "q\\"\\\\\\n\\t\\u0041 ${x}"')[0]!.value).toBe('q"\\\n\tA ${x}');
  });

  it.each([
    [`path "a" {`, /line 1, column 11: expected "}" to close the block, got end of input/],
    [`a = "open`, /line 1, .*unterminated string/],
    [`a = [ "x" "y" ]`, /expected "," between list elements/],
    [`a = bare`, /unknown value bare \(strings must be quoted\)/],
    [`a = <<EOF\nx\n`, /line 1, column 5: unterminated heredoc/],
    [`a = "x" }`, /column 9: expected a key, got "}"/],
    [`path "a" = "b" "c"`, /expected "\{" to open the "path" block/],
    [`/* never closed`, /unterminated \/\* comment/],
    [`a = "\\q"`, /invalid escape/],
    [`a ~ 1`, /unexpected character "~"/],
  ])("rejects %j", (source, message) => {
    expect(() => parseHcl(source)).toThrow(HclSyntaxError);
    expect(() => parseHcl(source)).toThrow(message);
  });
});

describe("policy documents", () => {
  it("reads HCL path blocks into capability bitmasks", () => {
    const policy = parsePolicy(
      "dev",
      `# dev team
       path "secret/data/dev/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }
       path "/sys/mounts" { capabilities = ["READ"] }
       path "secret/data/dev/locked" { capabilities = ["deny", "read"] }`,
    );
    expect(policy.rules).toEqual([
      { path: "secret/data/dev/*", capabilities: C.create | C.read | C.update | C.patch | C.delete | C.list },
      { path: "sys/mounts", capabilities: C.read },
      { path: "secret/data/dev/locked", capabilities: C.deny },
    ]);
  });

  it("reads the same policy written as JSON, as a map or a list of maps", () => {
    const hcl = parsePolicy("p", `path "a/*" { capabilities = ["read"] }\npath "b" { capabilities = ["sudo", "update"] }`);
    const map = parsePolicy("p", JSON.stringify({ path: { "a/*": { capabilities: ["read"] }, b: { capabilities: ["sudo", "update"] } } }));
    const list = parsePolicy("p", JSON.stringify({ path: [{ "a/*": { capabilities: ["read"] } }, { b: { capabilities: ["sudo", "update"] } }] }));
    expect(map.rules).toEqual(hcl.rules);
    expect(list.rules).toEqual(hcl.rules);
  });

  it("accepts the legacy policy shorthand and comments", () => {
    const policy = parsePolicy("p", `path "a" { policy = "write"\n comment = "why" }\npath "b" { policy = "deny" }`);
    expect(policy.rules).toEqual([
      { path: "a", capabilities: C.create | C.read | C.update | C.delete | C.list },
      { path: "b", capabilities: C.deny },
    ]);
  });

  it.each([
    [`path "a" { capabilities = ["fly"] }`, /invalid capability "fly"/],
    [`path "a" { capabilities = "read" }`, /"capabilities" must be a list of strings/],
    [`path "a" { allowed_parameters = { x = [] } }`, /"allowed_parameters" is not supported by Strongbox/],
    [`path "a" { colour = "red" }`, /invalid key "colour"/],
    [`paths "a" { capabilities = [] }`, /invalid key "paths" on line 1/],
    [`path "a/+*" { capabilities = ["read"] }`, /"\+\*" is forbidden/],
    [`path "a/*/b" { capabilities = ["read"] }`, /"\*" is only allowed at the end/],
    [`path "a/{{identity.entity.nope}}" { capabilities = ["read"] }`, /unknown or unsupported template key "identity.entity.nope"/],
    [`path "a" { capabilities = ["read"]\n capabilities = ["list"] }`, /"capabilities" set twice/],
    [`path "a" { policy = "admin" }`, /invalid "policy" value/],
    [`path "a" "b" { }`, /expected path "<path>"/],
    [`{"path": {"a": 1}}`, /path "a" must be an object/],
    [`{"paths": {}}`, /invalid key "paths"/],
    [`{not json`, /invalid JSON/],
    [`path "a" {`, /failed to parse policy: line 1/],
  ])("rejects %j", (text, message) => {
    expect(() => parsePolicy("p", text)).toThrow(PolicyParseError);
    expect(() => parsePolicy("p", text)).toThrow(message);
  });
});
