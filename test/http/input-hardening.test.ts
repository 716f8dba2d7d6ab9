import { describe, expect, it } from "vitest";
import { durationSeconds, goDurationNanos, MAX_DURATION_SECONDS, parseDuration } from "../../src/sdk/fields.js";
import { ExactNumber, JsonSyntaxError, parseJson, stringifyJson } from "../../src/sdk/encoding.js";
import { unsealedServer } from "../helpers/in-process-server.js";

/** Generous bound for requests the issue saw stall the event loop for seconds. */
const STALL_BOUND_MS = 1000;

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

describe("durations from request input", () => {
  it("parses in linear time, even text the length cap would not let through", () => {
    const started = performance.now();
    expect(goDurationNanos(`${"1".repeat(200_000)}x`)).toBeUndefined();
    expect(goDurationNanos(`${"1".repeat(100_000)}.${"1".repeat(100_000)}`)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(STALL_BOUND_MS);
  });

  it("keeps Go's duration syntax", () => {
    expect(goDurationNanos("1h30m")).toBe(5400e9);
    expect(goDurationNanos(".5s")).toBe(0.5e9);
    expect(goDurationNanos("-1.5m")).toBe(-90e9);
    expect(goDurationNanos("2d")).toBe(172_800e9);
    expect(goDurationNanos("1m30")).toBeUndefined();
    expect(goDurationNanos("h")).toBeUndefined();
    expect(goDurationNanos(".s")).toBeUndefined();
    expect(goDurationNanos("-")).toBeUndefined();
    expect(durationSeconds("90")).toBe(90);
    expect(durationSeconds("1.5")).toBeUndefined();
  });

  it("refuses over-long and out-of-range durations with a 400 naming the field", () => {
    expect(() => parseDuration("ttl", "1".repeat(65))).toThrow(/invalid ttl: more than 64 characters/);
    expect(() => parseDuration("ttl", 1e300)).toThrow(/invalid ttl: longer than the maximum duration 2562047h47m16s/);
    expect(() => parseDuration("ttl", "999999999999h")).toThrow(/maximum duration/);
    expect(parseDuration("ttl", MAX_DURATION_SECONDS)).toBe(MAX_DURATION_SECONDS);
    expect(() => parseDuration("ttl", MAX_DURATION_SECONDS + 1)).toThrow(/maximum duration/);
  });

  it("answers a 30 KB renew-self increment with a 400 without stalling", async () => {
    const h = await unsealedServer();
    const token = (await h.call("POST", "auth/token/create", { policies: ["default"] }, h.root)).body.auth.client_token;
    const { result, ms } = await timed(() => h.call("POST", "auth/token/renew-self", { increment: `${"1".repeat(30_000)}x` }, token));
    expect(result.status).toBe(400);
    expect(result.body.errors[0]).toMatch(/increment|ttl/);
    expect(ms).toBeLessThan(STALL_BOUND_MS);
  });

  it("reads a KV v1 secret whose stored ttl is 30k digits quickly, with the mount's default lease", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/mounts/kv1", { type: "kv" }, h.root);
    expect((await h.call("PUT", "kv1/slow", { ttl: `${"1".repeat(30_000)}x` }, h.root)).status).toBe(204);
    const { result, ms } = await timed(() => h.call("GET", "kv1/slow", undefined, h.root));
    expect(result.status).toBe(200);
    expect(result.body.lease_duration).toBe(2_764_800);
    expect(ms).toBeLessThan(STALL_BOUND_MS);
  });

  it("refuses absurd token TTLs and periods, so later lookups cannot fail", async () => {
    const h = await unsealedServer();
    for (const fields of [{ ttl: 1e300 }, { period: "999999999999h" }, { explicit_max_ttl: "1e400" }]) {
      const created = await h.call("POST", "auth/token/create", { policies: ["default"], ...fields }, h.root);
      expect(created.status, JSON.stringify(fields)).toBe(400);
      expect(created.body.errors[0]).toMatch(/invalid (ttl|period|explicit_max_ttl)/);
    }
    const longest = await h.call("POST", "auth/token/create", { policies: ["default"], period: MAX_DURATION_SECONDS }, h.root);
    expect(longest.status).toBe(200);
    const lookup = await h.call("POST", "auth/token/lookup", { token: longest.body.auth.client_token }, h.root);
    expect(lookup.status).toBe(200);
    expect(lookup.body.data.period).toBe(MAX_DURATION_SECONDS);
  });

  it("trims slashes around mount paths and policy names without quadratic backtracking", async () => {
    const h = await unsealedServer();
    const slashes = "/".repeat(50_000);
    for (const path of [`sys/mounts/a${slashes}b`, `sys/policies/acl/a${slashes}b`]) {
      const { result, ms } = await timed(() => h.call("GET", path, undefined, h.root));
      expect(result.status, path.slice(0, 20)).toBeLessThan(500);
      expect(ms).toBeLessThan(STALL_BOUND_MS);
    }
  });
});

describe("malformed input is the client's error", () => {
  it("answers malformed percent-escapes in the path with a 400", async () => {
    const h = await unsealedServer();
    for (const escape of ["%ZZ", "%", "%C0%AF", "%FF"]) {
      const response = await h.call("GET", `secret/${escape}`, undefined, h.root);
      expect(response.status, escape).toBe(400);
      expect(response.body.errors[0]).toMatch(/malformed percent-encoding/);
    }
  });

  it("answers a JSON body nested 5000 deep with a 400", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/mounts/kv1", { type: "kv" }, h.root);
    const deep = `{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    const response = await h.call("PUT", "kv1/deep", deep, h.root);
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatch(/failed to parse JSON input: nested deeper than 128 levels/);
    const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    expect((await h.call("PUT", "kv1/deep", `{"v":${nested(100)}}`, h.root)).status).toBe(204);
  });

  it("answers deeply nested HCL and JSON policies with a 400", async () => {
    const h = await unsealedServer();
    const policies = [
      `path "secret/*" { capabilities = ${"[".repeat(5000)}${"]".repeat(5000)} }`,
      `path "secret/*" ${"{ a = ".repeat(5000)}1${" }".repeat(5000)}`,
      `{"path": {"secret/*": {"capabilities": ${"[".repeat(5000)}${"]".repeat(5000)}}}}`,
    ];
    for (const policy of policies) {
      const response = await h.call("PUT", "sys/policies/acl/deep", { policy }, h.root);
      expect(response.status, policy.slice(0, 30)).toBe(400);
      expect(response.body.errors[0]).toMatch(/nested deeper than 128 levels/);
    }
  });
});

describe("secret numbers round-trip exactly", () => {
  const body = '{"big":12345678901234567890,"huge":1e400,"tiny":1e-400,"precise":0.10000000000000000555,"plain":42,"list":[98765432109876543210]}';

  it("through KV v1 and KV v2, as written", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/mounts/kv1", { type: "kv" }, h.root);
    await h.call("POST", "sys/mounts/kv2", { type: "kv-v2" }, h.root);
    expect((await h.call("PUT", "kv1/n", body, h.root)).status).toBe(204);
    const v1 = await h.callText("GET", "kv1/n", undefined, h.root);
    expect(v1.text).toContain(`"data":${body}`);
    expect((await h.call("PUT", "kv2/data/n", `{"data":${body}}`, h.root)).status).toBe(200);
    const v2 = await h.callText("GET", "kv2/data/n", undefined, h.root);
    expect(v2.text).toContain(`"data":{"data":${body}`);
  });

  it("through a KV v2 patch that leaves them alone", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/mounts/kv2", { type: "kv-v2" }, h.root);
    await h.call("PUT", "kv2/data/n", `{"data":${body}}`, h.root);
    const patch = new Request("http://strongbox.test/v1/kv2/data/n", {
      method: "PATCH",
      headers: { "x-vault-token": h.root, "content-type": "application/merge-patch+json" },
      body: '{"data":{"plain":43}}',
    });
    expect((await h.app.fetch(patch)).status).toBe(200);
    const read = await h.callText("GET", "kv2/data/n", undefined, h.root);
    expect(read.text).toContain('"big":12345678901234567890,"huge":1e400');
    expect(read.text).toContain('"plain":43');
  });

  it("and a field that needs a number still refuses one it cannot hold", async () => {
    const h = await unsealedServer();
    const created = await h.call("POST", "auth/token/create", '{"ttl":1e400}', h.root);
    expect(created.status).toBe(400);
    expect(created.body.errors[0]).toMatch(/invalid ttl: longer than the maximum duration/);
    const meta = await h.call("POST", "auth/token/create", '{"meta":1e400}', h.root);
    expect(meta.status).toBe(400);
  });
});

describe("parseJson and stringifyJson", () => {
  it("keep a __proto__ key an ordinary field on the exact-number path too", () => {
    const parsed = parseJson('{"__proto__":{"admin":true},"n":12345678901234567890}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed)).toEqual(["__proto__", "n"]);
    expect(stringifyJson(parsed)).toBe('{"__proto__":{"admin":true},"n":12345678901234567890}');
  });

  it("write numbers that survive a double as JSON.stringify does, and refuse what JSON.parse refuses", () => {
    expect(stringifyJson(parseJson('{"a":1.50,"b":-0.1e1,"c":[1e300]}'))).toBe('{"a":1.5,"b":-1,"c":[1e+300]}');
    for (const bad of ['{"a":1,}', "[01]", '{"a":"\\x"}', '{"a":1.}', "[1e400 1]", '"\t"']) {
      expect(() => parseJson(bad), bad).toThrow(JsonSyntaxError);
    }
  });

  it("replace only their own placeholders, not client strings that look like one's index", () => {
    const value = { text: "0", n: new ExactNumber("1e400"), also: '"0"' };
    expect(JSON.parse(stringifyJson(value).replace("1e400", "0"))).toEqual({ text: "0", n: 0, also: '"0"' });
  });
});
