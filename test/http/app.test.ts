import { beforeEach, describe, expect, it } from "vitest";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";

type Json = Record<string, any>;

function harness(maxRequestSize = 1024 * 1024) {
  const core = new Core({ physical: new InmemBackend(), storageType: "inmem" });
  const app = createApp({ core, maxRequestSize });
  const call = async (method: string, path: string, body?: unknown, token?: string, extraHeaders: Record<string, string> = {}) => {
    const headers: Record<string, string> = { ...extraHeaders };
    if (token) headers["x-vault-token"] = token;
    const response = await app.fetch(
      new Request(`http://strongbox.test/v1/${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Json };
  };
  return { core, call };
}

async function initialised(shares = 3, threshold = 2) {
  const h = harness();
  const init = await h.call("PUT", "sys/init", { secret_shares: shares, secret_threshold: threshold });
  return { ...h, keys: init.body.keys_base64 as string[], keysHex: init.body.keys as string[], rootToken: init.body.root_token as string };
}

async function unsealed() {
  const h = await initialised();
  await h.call("PUT", "sys/unseal", { key: h.keys[0] });
  await h.call("PUT", "sys/unseal", { key: h.keys[1] });
  return h;
}

describe("sys/init, seal-status, unseal, seal", () => {
  it("reports uninitialised, then initialises with the requested shares", async () => {
    const h = harness();
    expect((await h.call("GET", "sys/init")).body).toEqual({ initialized: false });
    expect((await h.call("GET", "sys/health")).status).toBe(501);
    const init = await h.call("PUT", "sys/init", { secret_shares: 5, secret_threshold: 3 });
    expect(init.status).toBe(200);
    expect(init.body.keys).toHaveLength(5);
    expect(init.body.keys_base64).toHaveLength(5);
    expect(init.body.root_token).toMatch(/^hvs\.[0-9A-Za-z]{24}$/);
    expect((await h.call("GET", "sys/init")).body).toEqual({ initialized: true });
    const status = (await h.call("GET", "sys/seal-status")).body;
    expect(status).toMatchObject({ type: "shamir", initialized: true, sealed: true, t: 3, n: 5, progress: 0 });
    expect((await h.call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 })).status).toBe(400);
  });

  it("rejects bad init parameters with 400", async () => {
    const h = harness();
    expect((await h.call("PUT", "sys/init", { secret_shares: 3, secret_threshold: 5 })).status).toBe(400);
    expect((await h.call("PUT", "sys/init", { secret_shares: "three" })).body.errors[0]).toMatch(/secret_shares/);
    expect((await h.call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1, pgp_keys: ["x"] })).status).toBe(400);
    expect((await h.call("GET", "sys/init")).body.initialized).toBe(false);
  });

  it("unseals with threshold shares (hex or base64), counts progress, and resets", async () => {
    const h = await initialised(3, 2);
    const first = await h.call("PUT", "sys/unseal", { key: h.keysHex[2] });
    expect(first.body).toMatchObject({ sealed: true, progress: 1, t: 2 });
    expect(first.body.nonce).not.toBe("");
    const reset = await h.call("PUT", "sys/unseal", { reset: true });
    expect(reset.body).toMatchObject({ sealed: true, progress: 0 });
    await h.call("PUT", "sys/unseal", { key: h.keys[1] });
    const done = await h.call("PUT", "sys/unseal", { key: h.keysHex[2] });
    expect(done.body).toMatchObject({ sealed: false, progress: 0 });
    expect((await h.call("GET", "sys/health")).status).toBe(200);
  });

  it("refuses shares from another cluster and stays sealed", async () => {
    const a = await initialised(3, 2);
    const b = await initialised(3, 2);
    await a.call("PUT", "sys/unseal", { key: b.keys[0] });
    const result = await a.call("PUT", "sys/unseal", { key: b.keys[1] });
    expect(result.status).toBe(400);
    expect(result.body.errors[0]).toMatch(/failed to unseal/);
    expect((await a.call("GET", "sys/seal-status")).body).toMatchObject({ sealed: true, progress: 0 });
  });

  it("rejects malformed unseal requests", async () => {
    const h = await initialised();
    expect((await h.call("PUT", "sys/unseal", {})).status).toBe(400);
    expect((await h.call("PUT", "sys/unseal", { key: "!!not a key!!" })).status).toBe(400);
  });

  it("answers 503 to everything but the sys endpoints while sealed", async () => {
    const h = await initialised();
    const sealed = await h.call("GET", "secret/foo", undefined, h.rootToken);
    expect(sealed.status).toBe(503);
    expect(sealed.body).toEqual({ errors: ["Vault is sealed"] });
    expect((await h.call("GET", "sys/health")).status).toBe(503);
    expect((await h.call("GET", "sys/health?sealedcode=200")).status).toBe(200);
  });

  it("sys/seal needs a root token, then seals", async () => {
    const h = await unsealed();
    expect((await h.call("PUT", "sys/seal")).status).toBe(403);
    expect((await h.call("PUT", "sys/seal", undefined, h.rootToken)).status).toBe(204);
    expect((await h.call("GET", "sys/seal-status")).body.sealed).toBe(true);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, h.rootToken)).status).toBe(503);
  });
});

describe("sys/health", () => {
  it("uses Vault's default codes and honours overrides", async () => {
    const h = await unsealed();
    const health = await h.call("GET", "sys/health");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ initialized: true, sealed: false, standby: false });
    expect((await h.call("GET", "sys/health?activecode=299")).status).toBe(299);
  });

  it("reports ha_enabled false in sys/leader", async () => {
    const h = await unsealed();
    expect((await h.call("GET", "sys/leader")).body).toMatchObject({ ha_enabled: false, is_self: false });
  });
});

describe("tokens", () => {
  let h: Awaited<ReturnType<typeof unsealed>>;
  beforeEach(async () => {
    h = await unsealed();
  });

  it("looks up the root token, by header or bearer", async () => {
    const self = await h.call("GET", "auth/token/lookup-self", undefined, h.rootToken);
    expect(self.status).toBe(200);
    expect(self.body.data).toMatchObject({ policies: ["root"], ttl: 0, expire_time: null, id: h.rootToken });
    const bearer = await h.call("GET", "auth/token/lookup-self", undefined, undefined, { authorization: `Bearer ${h.rootToken}` });
    expect(bearer.body.data.id).toBe(h.rootToken);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, "hvs.bogus")).status).toBe(403);
  });

  it("creates, looks up, renews and revokes a child token with a TTL", async () => {
    const created = await h.call("POST", "auth/token/create", { policies: ["app"], ttl: "1h", meta: { team: "a" } }, h.rootToken);
    expect(created.status).toBe(200);
    const auth = created.body.auth;
    expect(auth).toMatchObject({ policies: ["app", "default"], lease_duration: 3600, renewable: true, orphan: false, metadata: { team: "a" } });
    const looked = await h.call("POST", "auth/token/lookup", { token: auth.client_token }, h.rootToken);
    expect(looked.body.data).toMatchObject({ ttl: 3600, accessor: auth.accessor });
    const renewed = await h.call("POST", "auth/token/renew-self", { increment: "2h" }, auth.client_token);
    expect(renewed.body.auth.lease_duration).toBe(7200);
    expect((await h.call("POST", "auth/token/revoke", { token: auth.client_token }, h.rootToken)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, auth.client_token)).status).toBe(403);
  });

  it("revokes children with their parent, but not orphans", async () => {
    const parent = (await h.call("POST", "auth/token/create", { policies: ["root"] }, h.rootToken)).body.auth.client_token;
    const child = (await h.call("POST", "auth/token/create", { policies: ["x"] }, parent)).body.auth.client_token;
    const orphan = (await h.call("POST", "auth/token/create-orphan", { policies: ["y"] }, parent)).body.auth.client_token;
    await h.call("POST", "auth/token/revoke-self", {}, parent);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, child)).status).toBe(403);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, orphan)).status).toBe(200);
  });

  it("limits non-root tokens to managing themselves", async () => {
    const token = (await h.call("POST", "auth/token/create", { policies: ["app"] }, h.rootToken)).body.auth.client_token;
    expect((await h.call("GET", "sys/mounts", undefined, token)).status).toBe(403);
    expect((await h.call("POST", "auth/token/create", {}, token)).status).toBe(403);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token)).status).toBe(200);
  });

  it("honours num_uses", async () => {
    const token = (await h.call("POST", "auth/token/create", { num_uses: 2 }, h.rootToken)).body.auth.client_token;
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token)).body.data.num_uses).toBe(2);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token)).status).toBe(200);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token)).status).toBe(403);
  });

  it("rejects bad token parameters", async () => {
    expect((await h.call("POST", "auth/token/create", { ttl: "forever" }, h.rootToken)).status).toBe(400);
    expect((await h.call("POST", "auth/token/create", { policies: "root" }, h.rootToken)).status).toBe(400);
    expect((await h.call("POST", "auth/token/lookup", {}, h.rootToken)).status).toBe(400);
  });
});

describe("HTTP edge cases", () => {
  it("gives 400 on bad JSON, 404 on unknown paths, 413 on oversized bodies", async () => {
    const h = await unsealed();
    const bad = await h.call("POST", "auth/token/create", "{not json", h.rootToken);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatch(/failed to parse JSON/);
    const unknown = await h.call("GET", "nope/here", undefined, h.rootToken);
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors[0]).toMatch(/no handler for route/);
    const small = harness(64);
    const big = await small.call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1, padding: "x".repeat(200) });
    expect(big.status).toBe(413);
    expect((await small.call("GET", "sys/init")).body.initialized).toBe(false);
  });
});

describe("sys/mounts and KV through HTTP", () => {
  it("enables, lists, tunes and disables KV mounts", async () => {
    const h = await unsealed();
    expect((await h.call("POST", "sys/mounts/team", { type: "kv", options: { version: "2" } }, h.rootToken)).status).toBe(204);
    expect((await h.call("POST", "sys/mounts/team", { type: "kv" }, h.rootToken)).body.errors[0]).toMatch(/already in use/);
    expect((await h.call("POST", "sys/mounts/x", { type: "nope" }, h.rootToken)).status).toBe(400);
    expect((await h.call("POST", "sys/mounts/sys/evil", { type: "kv" }, h.rootToken)).status).toBe(400);
    const mounts = (await h.call("GET", "sys/mounts", undefined, h.rootToken)).body;
    expect(mounts.data["team/"]).toMatchObject({ type: "kv", options: { version: "2" } });
    expect(mounts["team/"]).toMatchObject({ type: "kv" });
    expect((await h.call("POST", "sys/mounts/team/tune", { default_lease_ttl: "1h" }, h.rootToken)).status).toBe(204);
    expect((await h.call("GET", "sys/mounts/team/tune", undefined, h.rootToken)).body.data.default_lease_ttl).toBe(3600);
    await h.call("POST", "team/data/a", { data: { k: "v" } }, h.rootToken);
    expect((await h.call("DELETE", "sys/mounts/team", undefined, h.rootToken)).status).toBe(204);
    expect((await h.call("GET", "team/data/a", undefined, h.rootToken)).status).toBe(404);
    await h.call("POST", "sys/mounts/team", { type: "kv-v2" }, h.rootToken);
    expect((await h.call("GET", "team/data/a", undefined, h.rootToken)).status).toBe(404);
  });

  it("serves KV v1 and v2 with Vault's envelope, and lists with ?list=true", async () => {
    const h = await unsealed();
    await h.call("POST", "sys/mounts/kv", { type: "kv" }, h.rootToken);
    await h.call("POST", "sys/mounts/secret", { type: "kv-v2" }, h.rootToken);
    expect((await h.call("PUT", "kv/app/one", { a: "1" }, h.rootToken)).status).toBe(204);
    const v1 = await h.call("GET", "kv/app/one", undefined, h.rootToken);
    expect(v1.body).toMatchObject({ data: { a: "1" }, lease_duration: 2764800, renewable: false, lease_id: "", wrap_info: null, auth: null });
    expect(v1.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await h.call("GET", "kv/app?list=true", undefined, h.rootToken)).body.data.keys).toEqual(["one"]);
    const missing = await h.call("GET", "kv/app/none", undefined, h.rootToken);
    expect(missing).toEqual({ status: 404, body: { errors: [] } });
    const written = await h.call("POST", "secret/data/db", { data: { pw: "x" } }, h.rootToken);
    expect(written.body.data).toMatchObject({ version: 1, destroyed: false });
    const cas = await h.call("POST", "secret/data/db", { data: { pw: "y" }, options: { cas: 0 } }, h.rootToken);
    expect(cas.status).toBe(400);
    expect(cas.body.errors[0]).toMatch(/check-and-set/);
    expect((await h.call("GET", "secret/data/db", undefined, h.rootToken)).body.data.data).toEqual({ pw: "x" });
    expect((await h.call("GET", "secret/metadata/?list=true", undefined, h.rootToken)).body.data.keys).toEqual(["db"]);
  });

  it("tells the CLI which mount and KV version serves a path", async () => {
    const h = await unsealed();
    await h.call("POST", "sys/mounts/secret", { type: "kv-v2" }, h.rootToken);
    const info = await h.call("GET", "sys/internal/ui/mounts/secret/foo/bar", undefined, h.rootToken);
    expect(info.body.data).toMatchObject({ path: "secret/", type: "kv", options: { version: "2" } });
  });
});
