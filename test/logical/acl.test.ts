import { describe, expect, it } from "vitest";
import { Acl, authorise } from "../../src/logical/acl.js";
import { SYS_ENDPOINTS } from "../../src/request/sys-endpoints.js";

/** Whether the core declares `path` an endpoint that needs sudo. */
const requiresSudo = (path: string) => SYS_ENDPOINTS.match(path)?.endpoint.sudo === true;
import { parsePolicy } from "../../src/logical/policy/policy.js";
import type { Operation } from "../../src/sdk/types.js";

function acl(...texts: string[]): Acl {
  return Acl.fromPolicies(texts.map((text, i) => parsePolicy(`p${i}`, text)));
}

async function allowed(target: Acl, operation: Operation, path: string, exists?: boolean | null): Promise<boolean> {
  try {
    await authorise(target, { path, operation, exists: exists === undefined ? undefined : async () => exists, sudo: requiresSudo(path) });
    return true;
  } catch (error) {
    expect((error as { status: number }).status).toBe(403);
    return false;
  }
}

const rule = (path: string, ...capabilities: string[]) => `path "${path}" { capabilities = ${JSON.stringify(capabilities)} }`;

describe("ACL path matching", () => {
  it.each([
    // [description, policies, operation, path, allowed]
    ["exact path", [rule("secret/a", "read")], "read", "secret/a", true],
    ["exact path does not cover children", [rule("secret/a", "read")], "read", "secret/a/b", false],
    ["exact path needs the capability", [rule("secret/a", "read")], "delete", "secret/a", false],
    ["glob covers the prefix itself and below", [rule("secret/*", "read")], "read", "secret/", true],
    ["glob is a plain string prefix", [rule("secret/a*", "read")], "read", "secret/abc/d", true],
    ["glob does not cover a sibling", [rule("secret/a*", "read")], "read", "secretx", false],
    ["+ matches one segment", [rule("secret/+/config", "read")], "read", "secret/app/config", true],
    ["+ does not match two segments", [rule("secret/+/config", "read")], "read", "secret/a/b/config", false],
    ["+ does not match a missing segment", [rule("secret/+/config", "read")], "read", "secret/config", false],
    ["+ with a trailing glob", [rule("secret/+/team-*", "read")], "read", "secret/app/team-b/x", true],
    ["+ with a trailing glob needs the prefix", [rule("secret/+/team-*", "read")], "read", "secret/app/other", false],
    ["a lone + matches a one-segment path", [rule("+", "read")], "read", "anything", true],
    ["nothing matches: denied by default", [rule("other/*", "read")], "read", "secret/a", false],
    ["exact beats a glob", [rule("secret/*", "read"), rule("secret/locked", "deny")], "read", "secret/locked", false],
    ["exact allow beats a glob deny", [rule("secret/*", "deny"), rule("secret/open", "read")], "read", "secret/open", true],
    ["longer glob beats shorter glob", [rule("secret/*", "read"), rule("secret/team/*", "deny")], "read", "secret/team/x", false],
    ["shorter glob still applies elsewhere", [rule("secret/*", "read"), rule("secret/team/*", "deny")], "read", "secret/other", true],
    ["later wildcard wins: foo/* over +/bar", [rule("secret/+/bar", "deny"), rule("secret/foo/*", "read")], "read", "secret/foo/bar", true],
    ["later wildcard wins: +/bar over *", [rule("secret/*", "deny"), rule("secret/+/bar", "read")], "read", "secret/x/bar", true],
    ["same wildcard position: + beats *", [rule("secret/*", "deny"), rule("secret/+", "read")], "read", "secret/x", true],
    ["fewer + segments win", [rule("a/+/+/c", "deny"), rule("a/+/b/c", "read")], "read", "a/x/b/c", true],
    ["longer pattern wins among globs", [rule("a/+/bar/b*", "deny"), rule("a/+/bar/ba*", "read")], "read", "a/x/bar/baz", true],
    ["same pattern in two policies: capabilities add up", [rule("kv/*", "read"), rule("kv/*", "update")], "update", "kv/x", true],
    ["same pattern in two policies: deny wins", [rule("kv/*", "read", "update"), rule("kv/*", "deny")], "read", "kv/x", false],
    ["deny with other capabilities is just deny", [rule("kv/x", "read", "deny")], "read", "kv/x", false],
    ["list uses the trailing-slash path", [rule("secret/metadata/", "list")], "list", "secret/metadata", true],
    ["list falls back to the rule without the slash", [rule("secret/metadata/app", "list")], "list", "secret/metadata/app/", true],
    ["list falls back for wildcard rules too", [rule("secret/+/app", "list")], "list", "secret/x/app/", true],
    ["list needs list, not read", [rule("secret/*", "read")], "list", "secret/", false],
    ["patch needs patch", [rule("secret/*", "update")], "patch", "secret/a", false],
    ["patch allowed by patch", [rule("secret/*", "patch")], "patch", "secret/a", true],
  ] as const)("%s", async (_, policies, operation, path, expected) => {
    expect(await allowed(acl(...policies), operation, path)).toBe(expected);
  });

  it("lets root do anything, sudo paths included", async () => {
    expect(await allowed(Acl.root(), "update", "sys/auth/userpass")).toBe(true);
    expect(await allowed(Acl.root(), "delete", "anything/at/all")).toBe(true);
  });

  it("requires sudo on root-protected paths", async () => {
    const withoutSudo = acl(rule("sys/auth/*", "create", "update", "read", "delete"));
    const withSudo = acl(rule("sys/auth/*", "create", "update", "read", "delete", "sudo"));
    expect(await allowed(withoutSudo, "update", "sys/auth/userpass")).toBe(false);
    expect(await allowed(withSudo, "update", "sys/auth/userpass")).toBe(true);
    // Listing methods is not protected, enabling one is.
    expect(await allowed(acl(rule("sys/auth", "read")), "read", "sys/auth")).toBe(true);
    expect(await allowed(acl(rule("sys/seal", "update")), "update", "sys/seal")).toBe(false);
    expect(await allowed(acl(rule("sys/seal", "update", "sudo")), "update", "sys/seal")).toBe(true);
    expect(await allowed(acl(rule("sys/seal", "sudo")), "update", "sys/seal")).toBe(false);
    expect(requiresSudo("auth/token/revoke-orphan")).toBe(true);
    expect(requiresSudo("sys/mounts/kv")).toBe(false);
    expect(requiresSudo("sys/policies/acl/dev")).toBe(false);
  });

  it("tells create from update with the existence check, and only asks when it matters", async () => {
    const createOnly = acl(rule("kv/*", "create"));
    const updateOnly = acl(rule("kv/*", "update"));
    const both = acl(rule("kv/*", "create", "update"));
    expect(await allowed(createOnly, "update", "kv/new", false)).toBe(true);
    expect(await allowed(createOnly, "update", "kv/old", true)).toBe(false);
    expect(await allowed(updateOnly, "update", "kv/new", false)).toBe(false);
    expect(await allowed(updateOnly, "update", "kv/old", true)).toBe(true);
    // A path without an existence check is an update.
    expect(await allowed(createOnly, "update", "kv/x", null)).toBe(false);
    expect(await allowed(updateOnly, "update", "kv/x", null)).toBe(true);
    let asked = 0;
    await authorise(both, { path: "kv/x", operation: "update", exists: async () => (asked++, true) });
    expect(asked).toBe(0);
  });
});

describe("ACL capabilities and mount access", () => {
  const target = acl(
    rule("secret/data/app/*", "read", "list"),
    rule("secret/data/app/admin", "deny"),
    rule("sys/auth/*", "update", "sudo", "create"),
    rule("kv/+/public", "read"),
  );

  it("reports sorted capability names, deny, or root", () => {
    expect(target.capabilities("secret/data/app/x")).toEqual(["list", "read"]);
    expect(target.capabilities("secret/data/app/admin")).toEqual(["deny"]);
    expect(target.capabilities("nowhere")).toEqual(["deny"]);
    expect(target.capabilities("sys/auth/userpass")).toEqual(["create", "sudo", "update"]);
    expect(Acl.root().capabilities("anything")).toEqual(["root"]);
  });

  it("knows sudo per path", () => {
    expect(target.hasSudo("sys/auth/x")).toBe(true);
    expect(target.hasSudo("secret/data/app/x")).toBe(false);
    expect(Acl.root().hasSudo("auth/token/create")).toBe(true);
  });

  it("finds access below a mount from exact, glob and segment rules", () => {
    expect(target.hasAccessUnder("secret/")).toBe(true);
    expect(target.hasAccessUnder("kv/")).toBe(true);
    expect(target.hasAccessUnder("other/")).toBe(false);
    expect(acl(rule("secret/data/app/admin", "deny")).hasAccessUnder("secret/")).toBe(false);
    expect(acl(rule("*", "read")).hasAccessUnder("anything/")).toBe(true);
  });
});
