/**
 * Property test of the ACL matcher: random policies and paths from a seeded PRNG, checked against
 * a reference written straight from Vault's policy documentation — slow and simple on purpose:
 *
 * - an exact rule (no `*`, no `+` segment) that names the path wins outright;
 * - otherwise every wildcard rule matching the path is ranked, and the highest wins, where P1
 *   ranks below P2 when, in this order: its first wildcard (`+` segment or `*`) comes earlier; it
 *   ends in `*` and P2 does not; it has more `+` segments; it is shorter; it is lexically smaller;
 * - rules for the same pattern from several policies add up, and a `deny` among them denies;
 * - LIST checks the path with a trailing "/", then falls back to the path without it (exact
 *   rules first, then wildcard ones); sys/capabilities applies the same fallback.
 *
 * Replay a failure with ACL_SEED=<seed printed in the failure>.
 */
import { describe, expect, it } from "vitest";
import { Acl, authorise } from "../../src/logical/acl.js";
import { SYS_ENDPOINTS } from "../../src/request/sys-endpoints.js";

/** Whether the core declares `path` an endpoint that needs sudo. */
const requiresSudo = (path: string) => SYS_ENDPOINTS.match(path)?.endpoint.sudo === true;
import { type Capability, parsePolicy } from "../../src/logical/policy/policy.js";
import type { Operation } from "../../src/sdk/types.js";
import { Random } from "../fuzz/random.js";

const SEED = Number(process.env.ACL_SEED ?? 7_041_977);
const CASES = 4_000;
const PATHS_PER_CASE = 12;

const GRANTS: Capability[] = ["create", "read", "update", "patch", "delete", "list", "sudo"];

interface Rule {
  pattern: string;
  capabilities: Set<Capability>;
}

// --- Reference ---------------------------------------------------------------------------------

const isGlob = (pattern: string) => pattern.endsWith("*");
const segmentsOf = (pattern: string) => (isGlob(pattern) ? pattern.slice(0, -1) : pattern).split("/");
const plusCount = (pattern: string) => segmentsOf(pattern).filter((segment) => segment === "+").length;
const isExact = (pattern: string) => !isGlob(pattern) && plusCount(pattern) === 0;

/** Offset of the first `+` segment or of the trailing `*`. */
function firstWildcard(pattern: string): number {
  let offset = 0;
  for (const segment of segmentsOf(pattern)) {
    if (segment === "+") return offset;
    offset += segment.length + 1;
  }
  return pattern.length - 1; // the `*`
}

const patternRegExps = new Map<string, RegExp>();

/** The pattern as a regular expression: `+` is one segment (anything without "/"), `*` anything. */
function matches(pattern: string, path: string): boolean {
  let regExp = patternRegExps.get(pattern);
  if (!regExp) {
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const body = segmentsOf(pattern)
      .map((segment) => (segment === "+" ? "[^/]*" : escape(segment)))
      .join("/");
    regExp = new RegExp(`^${body}${isGlob(pattern) ? "[\\s\\S]*" : ""}$`);
    patternRegExps.set(pattern, regExp);
  }
  return regExp.test(path);
}

/** Negative when `a` ranks below `b`. */
function compareRank(a: string, b: string): number {
  if (firstWildcard(a) !== firstWildcard(b)) return firstWildcard(a) - firstWildcard(b);
  if (isGlob(a) !== isGlob(b)) return isGlob(a) ? -1 : 1;
  if (plusCount(a) !== plusCount(b)) return plusCount(b) - plusCount(a);
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rules per pattern across policies: union of capabilities, or just deny. */
function mergeRules(policies: Rule[][]): Map<string, Set<Capability>> {
  const merged = new Map<string, Set<Capability>>();
  for (const rule of policies.flat()) {
    const union = new Set([...(merged.get(rule.pattern) ?? []), ...rule.capabilities]);
    merged.set(rule.pattern, union.has("deny") ? new Set(["deny"]) : union);
  }
  return merged;
}

function exactRule(rules: Map<string, Set<Capability>>, path: string): Set<Capability> | undefined {
  return [...rules].find(([pattern]) => isExact(pattern) && pattern === path)?.[1];
}

function bestWildcardRule(rules: Map<string, Set<Capability>>, path: string): Set<Capability> | undefined {
  const candidates = [...rules].filter(([pattern]) => !isExact(pattern) && matches(pattern, path));
  candidates.sort(([a], [b]) => compareRank(b, a));
  return candidates[0]?.[1];
}

/** The capabilities governing `path`, or undefined when no rule applies. */
function referenceLookup(rules: Map<string, Set<Capability>>, path: string, list: boolean): Set<Capability> | undefined {
  const trimmed = path.replace(/\/$/, "");
  return (
    exactRule(rules, path) ??
    (list ? exactRule(rules, trimmed) : undefined) ??
    bestWildcardRule(rules, path) ??
    (list && path.endsWith("/") ? bestWildcardRule(rules, trimmed) : undefined)
  );
}

function referenceAllows(rules: Map<string, Set<Capability>>, operation: Operation, path: string, exists: boolean | null): boolean {
  const list = operation === "list";
  const granted = referenceLookup(rules, list && !path.endsWith("/") ? `${path}/` : path, list);
  if (!granted || granted.has("deny")) return false;
  if (requiresSudo(path) && !granted.has("sudo")) return false;
  if (operation === "create" || operation === "update") {
    // With both or neither granted the existence of the target does not matter.
    if (granted.has("create") && granted.has("update")) return true;
    return exists === false ? granted.has("create") : granted.has("update");
  }
  return granted.has(operation);
}

function referenceCapabilities(rules: Map<string, Set<Capability>>, path: string): string[] {
  const granted = referenceLookup(rules, path, true);
  if (!granted || granted.has("deny") || granted.size === 0) return ["deny"];
  return [...granted].sort();
}

// --- Generators --------------------------------------------------------------------------------

const SEGMENTS = ["a", "b", "ab", "ba", "sys", "seal", "auth"];
/** One-letter segments make rules that tie on every rank but the lexical one, and overlap. */
const SHORT_SEGMENTS = ["a", "b"];

function randomPattern(random: Random, segmentNames: string[]): string {
  const segments = Array.from({ length: random.int(1, 4) }, () => (random.chance(0.3) ? "+" : random.pick(segmentNames)));
  let pattern = segments.join("/");
  if (random.chance(0.15)) pattern += "/";
  // A glob may cut a segment short ("a/b*" also matches "a/ba/..."); "+*" is not a valid policy path.
  if (random.chance(0.45) && !pattern.endsWith("+")) {
    if (random.chance(0.3) && !pattern.endsWith("/")) pattern = pattern.slice(0, -1);
    pattern += "*";
  }
  if (random.chance(0.02)) pattern = random.pick(["*", "+", "+/*", "sys/seal", "sys/auth/*"]);
  return pattern;
}

function randomCapabilities(random: Random): Set<Capability> {
  const capabilities = new Set<Capability>(GRANTS.filter(() => random.chance(0.3)));
  if (random.chance(0.15)) capabilities.add("deny");
  return capabilities;
}

function randomPath(random: Random, segmentNames: string[]): string {
  let path = Array.from({ length: random.int(1, 5) }, () => random.pick(segmentNames)).join("/");
  if (random.chance(0.2)) path += "/";
  if (random.chance(0.05)) path = random.pick(["sys/seal", "sys/auth/a", "sys/auth", "", "a//b"]);
  return path;
}

const OPERATIONS: Operation[] = ["read", "list", "create", "update", "delete", "patch"];

/** The rule as policy HCL: the matcher is fed what the policy parser makes of it, as in the server. */
function policyStanza(rule: Rule): string {
  return `path "${rule.pattern}" { capabilities = ${JSON.stringify([...rule.capabilities])} }`;
}

async function allows(acl: Acl, operation: Operation, path: string, exists: boolean | null): Promise<boolean> {
  try {
    await authorise(acl, { path, operation, exists: async () => exists, sudo: requiresSudo(path) });
    return true;
  } catch {
    return false;
  }
}

describe("ACL matcher against a reference implementation", () => {
  it(`agrees on ${CASES} random policy sets × ${PATHS_PER_CASE} paths (seed ${SEED})`, { timeout: 60_000 }, async () => {
    for (let i = 0; i < CASES; i++) {
      const random = new Random(SEED ^ Math.imul(i + 1, 0x9e3779b1));
      const segmentNames = random.chance(0.3) ? SHORT_SEGMENTS : SEGMENTS;
      const policies: Rule[][] = Array.from({ length: random.int(1, 3) }, () =>
        Array.from({ length: random.int(1, 5) }, () => ({ pattern: randomPattern(random, segmentNames), capabilities: randomCapabilities(random) })),
      );
      const acl = Acl.fromPolicies(policies.map((rules, n) => parsePolicy(`p${n}`, rules.map(policyStanza).join("\n"))));
      const rules = mergeRules(policies);
      const described = () =>
        `seed ${SEED}, case ${i}; policies:\n${policies.map((p, n) => `  p${n}: ${p.map((r) => `"${r.pattern}" ${JSON.stringify([...r.capabilities])}`).join(", ")}`).join("\n")}`;

      for (let j = 0; j < PATHS_PER_CASE; j++) {
        const path = randomPath(random, segmentNames);
        const operation = random.pick(OPERATIONS);
        const exists = random.pick([true, false, null]);
        const expected = referenceAllows(rules, operation, path, exists);
        const actual = await allows(acl, operation, path, exists);
        if (actual !== expected) expect.fail(`${operation} "${path}" (exists: ${exists}): acl.ts says ${actual}, the reference ${expected}\n${described()}`);
        const capabilities = acl.capabilities(path);
        const expectedCapabilities = referenceCapabilities(rules, path);
        if (capabilities.join() !== expectedCapabilities.join()) {
          expect.fail(`capabilities("${path}"): acl.ts says ${capabilities}, the reference ${expectedCapabilities}\n${described()}`);
        }
      }
    }
  });

  it("has a reference that knows the documented precedence (guards the guard)", () => {
    const rules = mergeRules([
      [
        { pattern: "a/+/b", capabilities: new Set(["deny"]) },
        { pattern: "a/x/*", capabilities: new Set(["read"]) },
      ],
    ]);
    expect(referenceAllows(rules, "read", "a/x/b", null)).toBe(true);
    const merged = mergeRules([[{ pattern: "a/*", capabilities: new Set(["read"]) }], [{ pattern: "a/*", capabilities: new Set(["deny", "update"]) }]]);
    expect(referenceCapabilities(merged, "a/b")).toEqual(["deny"]);
    expect(referenceAllows(mergeRules([[{ pattern: "a/+", capabilities: new Set(["read"]) }]]), "read", "a/b/c", null)).toBe(false);
  });
});
