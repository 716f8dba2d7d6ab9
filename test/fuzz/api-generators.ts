/**
 * Random Vault API requests for the fuzz test: real paths mixed with hostile segments, bodies
 * that are right, wrong or pathological for the path, and tokens of every kind.
 */
import type { Random } from "./random.js";

/** `minted`: one of the tokens earlier fuzz requests created or logged in with (odd TTLs and all). */
export type TokenKind = "root" | "default" | "narrow" | "minted" | "garbage" | "none";

export interface FuzzRequest {
  method: string;
  /** Sent as is after "/v1/" (node:http does not normalise `..` or percent escapes). */
  path: string;
  /** Raw bytes of the body, or undefined for none. */
  body?: string;
  tokenKind: TokenKind;
  /** A garbage token; the other kinds are filled in by the test. */
  garbageToken?: string;
  /** Which minted token, as a fraction of the pool the test holds. */
  mintedPick: number;
  /** Send the token as `Authorization: Bearer` instead of `X-Vault-Token`. */
  bearer: boolean;
}

/** Mounts, users and roles the test creates first so requests reach the deep handlers. */
export const STATE = { kvV1: "kv1", user: "alice", role: "builder", policy: "narrow" } as const;

/** Writes weigh more: they are what carries a body into the handlers. */
const METHODS = ["POST", "POST", "POST", "PUT", "PUT", "GET", "GET", "LIST", "DELETE", "PATCH", "HEAD", "OPTIONS"];
const JUNK_METHODS = ["FOO", "GETS", "get", "Post", "MKCOL", "PROPFIND", "BREW", "X".repeat(200)];

const NAMES = ["a", "app", "team/x", "deep/er/path", "alice", "builder", "narrow", "default", "root", "kv1", "secret"];

/**
 * Path templates; `{n}` is a name, which may be replaced by a hostile segment. Handlers with the
 * most input to get wrong are listed more than once, to be drawn more often.
 */
const PATHS = [
  ...Array<string>(6).fill("auth/token/create"),
  ...Array<string>(2).fill("auth/token/renew-self"),
  ...Array<string>(2).fill("auth/token/lookup-self"),
  ...Array<string>(3).fill("auth/userpass/users/{n}"),
  ...Array<string>(3).fill("auth/approle/role/{n}"),
  ...Array<string>(3).fill("secret/data/{n}"),
  ...Array<string>(3).fill("kv1/{n}"),
  ...Array<string>(2).fill("sys/policies/acl/{n}"),
  ...Array<string>(2).fill("sys/mounts/{n}"),
  "sys/health",
  "sys/seal-status",
  "sys/leader",
  "sys/ha-status",
  "sys/init",
  "sys/unseal",
  "sys/mounts",
  "sys/mounts/{n}",
  "sys/mounts/{n}/tune",
  "sys/mounts/kv1/tune",
  "sys/remount",
  "sys/remount/status/{n}",
  "sys/rekey/init",
  "sys/rekey/update",
  "sys/rekey/verify",
  "sys/rekey-recovery-key/init",
  "sys/generate-root/attempt",
  "sys/generate-root/update",
  "sys/auth",
  "sys/auth/{n}",
  "sys/auth/userpass/tune",
  "sys/policy",
  "sys/policy/{n}",
  "sys/policies/acl",
  "sys/policies/acl/{n}",
  "sys/capabilities",
  "sys/capabilities-self",
  "sys/capabilities-accessor",
  "sys/internal/ui/mounts/{n}",
  "sys/internal/ui/mounts/secret/data/{n}",
  "auth/token/create",
  "auth/token/create-orphan",
  "auth/token/lookup",
  "auth/token/lookup-self",
  "auth/token/lookup-accessor",
  "auth/token/renew",
  "auth/token/renew-self",
  "auth/token/revoke",
  "auth/token/revoke-accessor",
  "auth/token/revoke-orphan",
  "auth/token/{n}",
  "auth/userpass/users",
  "auth/userpass/users/{n}",
  "auth/userpass/users/{n}/password",
  "auth/userpass/users/{n}/policies",
  "auth/userpass/login/{n}",
  "auth/approle/role",
  "auth/approle/role/{n}",
  "auth/approle/role/{n}/role-id",
  "auth/approle/role/{n}/secret-id",
  "auth/approle/role/{n}/secret-id/lookup",
  "auth/approle/role/{n}/secret-id/destroy",
  "auth/approle/role/{n}/secret-id-accessor/lookup",
  "auth/approle/login",
  "secret/data/{n}",
  "secret/metadata/{n}",
  "secret/metadata/",
  "secret/subkeys/{n}",
  "secret/delete/{n}",
  "secret/undelete/{n}",
  "secret/destroy/{n}",
  "secret/config",
  "kv1/{n}",
  "kv1/",
  "{n}/{n}",
  "{n}",
];

/**
 * Paths that would end the run's usefulness (sealing, stepping down) are kept out: the fuzzer is
 * after bad input, not after an authorised operator switching the server off.
 */
const FORBIDDEN = /^sys\/(seal|step-down)\/?$/;

export function isForbidden(path: string): boolean {
  let decoded = path.split("?")[0]!;
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // Undecodable paths cannot name sys/seal.
  }
  return FORBIDDEN.test(decoded.replace(/\/+/g, "/").replace(/^\//, ""));
}

/** Whether the request makes the server hash a password (a userpass login or user write). */
export function hashesPassword(request: FuzzRequest): boolean {
  return ["POST", "PUT"].includes(request.method) && /^auth\/userpass\/(login|users)\//.test(request.path);
}

function hostileSegment(random: Random): string {
  return random.weighted<string>([
    [3, () => random.pick(["..", ".", "%2e%2e", "%2E%2E", "%2e", "..%2f..", "%2f", "%5c", "\\"])],
    [3, () => random.pick(["%00", "a%00b", "%ZZ", "%", "%C0%AF", "%FF", "%E2%82", "%%", "%u0041", "%0a", "%0d%0a"])],
    [2, () => encodeURIComponent(random.pick(["é", "日本語", "🔑", "\u202e", "\uFEFF", "Ω≈ç"]))],
    [1, () => random.pick(["\xe9", "\xff\xfe", "caf\xe9"])], // raw non-UTF-8 bytes
    [2, () => random.string(random.pick([256, 4096, 20_000]))],
    [1, () => ""], // makes a double slash
    [1, () => random.pick(["*", "+", "{n}", "$", ";", "'", '"', "<script>", "a b".replace(" ", "%20")])],
    [1, () => random.pick(["__proto__", "constructor", "prototype", "hasOwnProperty"])],
  ]);
}

function queryString(random: Random): string {
  return random.weighted<string>([
    [6, () => ""],
    [2, () => "?list=true"],
    [1, () => random.pick(["?version=-1", "?version=0", "?version=1e300", "?version=abc", "?version=99999999999999999999"])],
    [1, () => random.pick(["?depth=-1", "?depth=999999", "?list=true&list=false", "?%ZZ=1", "?a=%ZZ", "?cas=x", "?" + "a=1&".repeat(2000)])],
    [1, () => random.pick(["?standbyok=true", "?activecode=999", "?sealedcode=abc", "?uninitcode=-1"])],
  ]);
}

export function randomPath(random: Random): string {
  let path = random.pick(PATHS).replace(/\{n\}/g, () => (random.chance(0.3) ? hostileSegment(random) : random.pick(NAMES)));
  if (random.chance(0.15)) {
    // Splice a hostile segment somewhere into an otherwise real path.
    const parts = path.split("/");
    parts.splice(random.int(0, parts.length), 0, hostileSegment(random));
    path = parts.join("/");
  }
  if (random.chance(0.05)) path = path.replace("/", "//");
  if (random.chance(0.05)) path += "/";
  return path + queryString(random);
}

/** Duration-ish strings, including ones that are long or absurd. */
function duration(random: Random): unknown {
  return random.weighted<unknown>([
    [4, () => random.pick(["1h", "30m", "10s", "0", "1", "768h", "1h30m", "-1h", "1.5h", "", "abc", "1d", "h"])],
    [2, () => random.pick([3600, 0, -1, 1.5, 1e300, -1e300, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER])],
    [1, () => random.pick(["999999999999h", "9999999999999999999s", "1e300", "1e300h", "Infinity", "NaN"])],
    [1, () => "1h".repeat(random.pick([100, 5_000, 50_000]))],
    [1, () => "1".repeat(random.pick([100, 5_000, 50_000])) + random.pick(["s", "x", "h!", "."])],
  ]);
}

function policyText(random: Random): string {
  return random.weighted<string>([
    [
      4,
      () =>
        `path "${random.pick(["secret/*", "kv1/+", "sys/*", "auth/token/*", "+/+/*"])}" { capabilities = ${JSON.stringify(random.pick([["read"], ["create", "update"], ["deny"], ["sudo", "list"], ["bogus"]]))} }`,
    ],
    [1, () => `path "x" { capabilities = ${"[".repeat(random.int(10, 600))}"read"${"]".repeat(random.int(0, 600))} }`],
    [1, () => `${'path "x" { '.repeat(random.int(10, 600))}${"}".repeat(random.int(0, 600))}`],
    [1, () => `path "x" { capabilities = ["read"] ${random.pick(["", "}", "{", "= = =", "\0", "/*", "#", "<<EOF\n"])}`],
    [1, () => random.string(random.int(0, 2000), 'path{}[]"=,# \n*+/\\')],
  ]);
}

/** A JSON value of some type, often the wrong one. */
function value(random: Random, depth = 0): unknown {
  return random.weighted<unknown>([
    [4, () => random.string(random.int(0, 12))],
    [2, () => random.pick([0, 1, -1, 1.5, 1e300, -1e300, 2 ** 53 + 1, 1e-300, Number.MAX_SAFE_INTEGER])],
    [1, () => random.pick([true, false, null])],
    [1, () => random.string(random.pick([1_000, 20_000, 100_000]))],
    [1, () => (depth > 3 ? [] : Array.from({ length: random.int(0, 4) }, () => value(random, depth + 1)))],
    [1, () => (depth > 3 ? {} : Object.fromEntries(Array.from({ length: random.int(0, 4) }, () => [random.pick(FIELDS), value(random, depth + 1)])))],
    [1, () => duration(random)],
  ]);
}

const FIELDS = [
  "ttl",
  "increment",
  "period",
  "explicit_max_ttl",
  "max_ttl",
  "policies",
  "no_parent",
  "no_default_policy",
  "num_uses",
  "renewable",
  "display_name",
  "meta",
  "id",
  "type",
  "token",
  "accessor",
  "password",
  "token_ttl",
  "token_max_ttl",
  "token_period",
  "token_policies",
  "token_bound_cidrs",
  "token_num_uses",
  "token_type",
  "token_explicit_max_ttl",
  "bind_secret_id",
  "secret_id",
  "role_id",
  "secret_id_ttl",
  "secret_id_num_uses",
  "secret_id_bound_cidrs",
  "cidr_list",
  "metadata",
  "secret_id_accessor",
  "data",
  "options",
  "cas",
  "versions",
  "max_versions",
  "cas_required",
  "delete_version_after",
  "custom_metadata",
  "config",
  "default_lease_ttl",
  "max_lease_ttl",
  "description",
  "policy",
  "rules",
  "path",
  "paths",
  "version",
  "depth",
  "__proto__",
  "constructor",
];

/** A body with the fields the path's handler reads, with plausible or hostile values. */
function fieldsFor(random: Random, path: string): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const set = (key: string, generate: () => unknown) => {
    if (random.chance(0.7)) body[key] = random.chance(0.75) ? generate() : value(random);
  };
  const policies = () => random.pick([["default"], [STATE.policy], ["root"], "default,narrow", [], ["x".repeat(1000)]]);
  if (path.startsWith("auth/token/")) {
    for (const key of ["ttl", "period", "explicit_max_ttl", "increment"]) set(key, () => duration(random));
    set("policies", policies);
    set("num_uses", () => random.pick([0, 1, -1, 1e300]));
    set("token", () => random.string(24));
    set("accessor", () => random.string(24));
    set("meta", () => ({ k: random.string(8) }));
    set("no_parent", () => random.pick([true, false, "yes"]));
  } else if (path.startsWith("auth/userpass/")) {
    set("password", () => random.pick(["pw", "", random.string(100_000)]));
    for (const key of ["token_ttl", "token_max_ttl", "token_period", "token_explicit_max_ttl"]) set(key, () => duration(random));
    set("token_policies", policies);
    set("policies", policies);
    set("token_bound_cidrs", () => random.pick([["127.0.0.1/32"], "10.0.0.0/8,::1/128", ["300.1.1.1/99"], ["::/0"], "garbage"]));
    set("token_num_uses", () => random.pick([0, 5, -1, 1e300]));
  } else if (path.startsWith("auth/approle/")) {
    set("role_id", () => random.string(36));
    set("secret_id", () => random.string(36));
    set("secret_id_accessor", () => random.string(36));
    set("bind_secret_id", () => random.pick([true, false, "false"]));
    for (const key of ["secret_id_ttl", "token_ttl", "token_max_ttl", "token_period"]) set(key, () => duration(random));
    set("secret_id_num_uses", () => random.pick([0, 1, -1, 1e300]));
    set("token_policies", policies);
    set("secret_id_bound_cidrs", () => random.pick([["127.0.0.1/32"], "0.0.0.0/0", ["1.2.3.4/33"]]));
    set("metadata", () => random.pick(['{"a":"b"}', "{", { a: "b" }]));
  } else if (path.startsWith("secret/") || path.startsWith("kv1/")) {
    set("data", () => Object.fromEntries(Array.from({ length: random.int(0, 5) }, () => [random.string(random.int(1, 10)), value(random)])));
    set("options", () => ({ cas: random.pick([0, 1, -1, 1e300, "1"]) }));
    set("versions", () => random.pick([[1], [1, 2, 3], [-1], [1e300], "1,2", []]));
    set("max_versions", () => random.pick([0, 5, -1, 1e300]));
    set("cas_required", () => random.pick([true, false, "true"]));
    set("delete_version_after", () => duration(random));
    set("custom_metadata", () => ({ owner: random.string(5) }));
    if (path.startsWith("kv1/")) for (let i = random.int(0, 4); i > 0; i--) body[random.string(6)] = value(random);
  } else if (path.startsWith("sys/mounts") || path.startsWith("sys/auth")) {
    set("type", () => random.pick(["kv", "kv-v2", "userpass", "approle", "token", "system", "bogus", ""]));
    set("options", () => random.pick([{ version: "1" }, { version: "2" }, { version: "3" }, { version: 1e300 }]));
    set("config", () => ({ default_lease_ttl: duration(random), max_lease_ttl: duration(random) }));
    set("default_lease_ttl", () => duration(random));
    set("max_lease_ttl", () => duration(random));
    set("description", () => random.string(random.int(0, 200)));
  } else if (path.startsWith("sys/polic")) {
    set("policy", () => policyText(random));
    set("rules", () => policyText(random));
  } else if (path.startsWith("sys/capabilities")) {
    set("paths", () => random.pick([["secret/data/a"], "kv1/a", [], [random.string(5000)]]));
    set("path", () => random.pick(["secret/data/a", "sys/seal", ""]));
    set("token", () => random.string(24));
    set("accessor", () => random.string(24));
  } else if (path.startsWith("sys/unseal")) {
    set("key", () => random.string(44));
    set("reset", () => random.pick([true, false]));
  } else if (path.startsWith("sys/remount")) {
    set("from", () => random.pick(["kv1", "secret", "sys", "auth/userpass", "missing", "", random.string(20)]));
    set("to", () => random.pick(["kv1-moved", "secret", "cubbyhole/x", "a/../b", "", random.string(20)]));
  } else if (path.startsWith("sys/rekey") || path.startsWith("sys/generate-root")) {
    set("secret_shares", () => random.pick([1, 3, 0, -1, 256, 1e300, "3"]));
    set("secret_threshold", () => random.pick([1, 2, 0, 300, 2.5]));
    set("require_verification", () => random.pick([true, false, "yes"]));
    set("pgp_keys", () => random.pick([[], ["abc"], "abc"]));
    set("backup", () => random.pick([true, false, 1]));
    set("key", () => random.pick([random.string(44), "ab".repeat(33), ""]));
    set("nonce", () => random.string(36));
    set("otp", () => random.pick([random.string(28), random.string(5), 28]));
    set("pgp_key", () => random.string(10));
  }
  return body;
}

function nested(depth: number, random: Random): string {
  return random.chance(0.5) ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}` : `{"data":${"[".repeat(depth)}${"]".repeat(depth)}}`;
}

export function randomBody(random: Random, path: string): string | undefined {
  return random.weighted<string | undefined>([
    [3, () => undefined],
    [10, () => JSON.stringify(fieldsFor(random, path))],
    [2, () => JSON.stringify(Object.fromEntries(Array.from({ length: random.int(1, 6) }, () => [random.pick(FIELDS), value(random)])))],
    [1, () => random.pick(["", " ", "{", '{"a":}', "nul", "[]", "1", '"s"', "null", "{}}", '{"a":1,}', "\uFEFF{}", '{"a":"\\ud800"}'])],
    [1, () => random.string(random.int(1, 200), '{}[]":,0123456789abc \\\n')],
    [1, () => nested(random.int(50, 400), random)],
    [0.2, () => nested(5_000, random)],
    // As text: a number literal this big would reach JSON.stringify already rounded to 1.2345678901234568e+29.
    [1, () => '{"data":{"v":1e300,"w":-1e300,"big":123456789012345678901234567890,"tiny":5e-324}}'],
    [0.3, () => `{"data":{"v":${"9".repeat(random.pick([400, 5000]))}}}`],
  ]);
}

export function randomRequest(random: Random): FuzzRequest {
  const method = random.chance(0.05) ? random.pick(JUNK_METHODS) : random.pick(METHODS);
  let path = randomPath(random);
  if (isForbidden(path)) path = "sys/seal-status";
  const body = method === "GET" || method === "HEAD" ? (random.chance(0.1) ? randomBody(random, path) : undefined) : randomBody(random, path);
  const tokenKind = random.weighted<TokenKind>([
    [4, () => "root"],
    [2, () => "default"],
    [2, () => "narrow"],
    [2, () => "minted"],
    [1, () => "garbage"],
    [1, () => "none"],
  ]);
  const garbageToken = tokenKind === "garbage" ? random.pick(["s.", "hvs.x", "x".repeat(5000), "root", random.string(26), "%00", "a\tb"]) : undefined;
  return { method, path, body, tokenKind, garbageToken, mintedPick: random.next(), bearer: random.chance(0.2) };
}
