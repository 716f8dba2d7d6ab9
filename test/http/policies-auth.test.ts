import { beforeEach, describe, expect, it } from "vitest";
import { INVALID_TOKEN, type Json, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

type Server = Awaited<ReturnType<typeof unsealedServer>>;

async function tokenWith(h: Server, policies: string[], extra: Json = {}): Promise<string> {
  const created = await h.call("POST", "auth/token/create", { policies, ...extra }, h.root);
  expect(created.status).toBe(200);
  return created.body.auth.client_token;
}

async function writePolicy(h: Server, name: string, policy: string): Promise<void> {
  expect((await h.call("PUT", `sys/policies/acl/${name}`, { policy }, h.root)).status).toBe(204);
}

describe("permission denied", () => {
  it("answers 403 with Vault's bodies: no token, unknown token, policy says no", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    expect(await h.call("GET", "secret/a")).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect(await h.call("GET", "secret/a", undefined, "hvs.unknown")).toEqual({ status: 403, body: INVALID_TOKEN });
    const token = await tokenWith(h, ["nothing-here"]);
    expect(await h.call("GET", "secret/a", undefined, token)).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect(await h.call("PUT", "secret/a", { x: 1 }, token)).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect(await h.call("GET", "sys/mounts", undefined, token)).toEqual({ status: 403, body: PERMISSION_DENIED });
    await h.call("POST", "auth/token/revoke", { token }, h.root);
    expect(await h.call("GET", "auth/token/lookup-self", undefined, token)).toEqual({ status: 403, body: INVALID_TOKEN });
  });
});

describe("sys/policies/acl and sys/policy", () => {
  let h: Server;
  beforeEach(async () => {
    h = await unsealedServer();
  });

  it("writes, reads, lists and deletes HCL and JSON policies", async () => {
    const hcl = `# team\npath "secret/*" {\n  capabilities = ["read", "list"]\n}\n`;
    await writePolicy(h, "Dev", hcl);
    expect((await h.call("GET", "sys/policies/acl/dev", undefined, h.root)).body.data).toEqual({ name: "dev", policy: hcl });
    const json = JSON.stringify({ path: { "kv/*": { capabilities: ["read"] } } });
    await writePolicy(h, "ops", json);
    expect((await h.call("LIST", "sys/policies/acl", undefined, h.root)).body.data.keys).toEqual(["default", "dev", "ops", "root"]);
    expect((await h.call("GET", "sys/policies/acl?list=true", undefined, h.root)).body.data.keys).toEqual(["default", "dev", "ops", "root"]);
    expect((await h.call("DELETE", "sys/policies/acl/ops", undefined, h.root)).status).toBe(204);
    expect(await h.call("GET", "sys/policies/acl/ops", undefined, h.root)).toEqual({ status: 404, body: { errors: [] } });
  });

  it("serves the legacy shapes, with data repeated at the top level", async () => {
    expect((await h.call("PUT", "sys/policy/legacy", { rules: `path "a" { policy = "read" }` }, h.root)).status).toBe(204);
    const list = (await h.call("GET", "sys/policy", undefined, h.root)).body;
    expect(list.data).toEqual({ keys: ["default", "legacy", "root"], policies: ["default", "legacy", "root"] });
    expect(list.policies).toEqual(["default", "legacy", "root"]);
    const read = (await h.call("GET", "sys/policy/legacy", undefined, h.root)).body;
    expect(read.data).toEqual({ name: "legacy", rules: `path "a" { policy = "read" }` });
    expect(read.rules).toBe(`path "a" { policy = "read" }`);
  });

  it("accepts a base64-encoded policy, as Vault does", async () => {
    const text = `path "b64/*" { capabilities = ["read"] }`;
    await writePolicy(h, "encoded", btoa(text));
    expect((await h.call("GET", "sys/policies/acl/encoded", undefined, h.root)).body.data.policy).toBe(text);
  });

  it("rejects invalid policies with the parser's reason", async () => {
    const bad = await h.call("PUT", "sys/policies/acl/bad", { policy: `path "a" { capabilities = ["fly"] }` }, h.root);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatch(/invalid capability "fly"/);
    const syntax = await h.call("PUT", "sys/policies/acl/bad", { policy: `path "a" {` }, h.root);
    expect(syntax.body.errors[0]).toMatch(/failed to parse policy: line 1/);
    expect((await h.call("PUT", "sys/policies/acl/empty", { policy: "" }, h.root)).body.errors).toEqual(["'policy' parameter not supplied or empty"]);
  });

  it("keeps the built-ins: default editable but not deletable, root neither", async () => {
    const defaults = (await h.call("GET", "sys/policies/acl/default", undefined, h.root)).body.data;
    expect(defaults.policy).toMatch(/auth\/token\/lookup-self/);
    expect((await h.call("GET", "sys/policies/acl/root", undefined, h.root)).body.data).toEqual({ name: "root", policy: "" });
    expect((await h.call("PUT", "sys/policies/acl/root", { policy: `path "a" { capabilities = ["read"] }` }, h.root)).body.errors).toEqual([
      "cannot update root policy",
    ]);
    expect((await h.call("DELETE", "sys/policies/acl/root", undefined, h.root)).body.errors).toEqual(["cannot delete root policy"]);
    expect((await h.call("DELETE", "sys/policies/acl/default", undefined, h.root)).body.errors).toEqual(["cannot delete default policy"]);

    // Editing default changes what every token may do, at once.
    await h.call("POST", "sys/mounts/kv", { type: "kv" }, h.root);
    await h.call("PUT", "kv/shared", { v: "1" }, h.root);
    const token = await tokenWith(h, []);
    expect((await h.call("GET", "kv/shared", undefined, token)).status).toBe(403);
    await writePolicy(h, "default", `${defaults.policy}\npath "kv/shared" { capabilities = ["read"] }\n`);
    expect((await h.call("GET", "kv/shared", undefined, token)).status).toBe(200);
  });
});

describe("tokens are authorised by their policies", () => {
  let h: Server;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/mounts/secret", { type: "kv-v2" }, h.root);
    await h.call("POST", "secret/data/app/db", { data: { password: "p" } }, h.root);
    await h.call("POST", "secret/data/app/admin", { data: { key: "k" } }, h.root);
  });

  it("allows reads the policy grants, forbids writes it does not, and lets deny win", async () => {
    await writePolicy(h, "reader", `path "secret/data/app/*" { capabilities = ["read"] }\npath "secret/metadata/app/*" { capabilities = ["list"] }`);
    await writePolicy(h, "no-admin", `path "secret/data/app/admin" { capabilities = ["deny"] }`);
    const token = await tokenWith(h, ["reader", "no-admin"]);
    expect((await h.call("GET", "secret/data/app/db", undefined, token)).body.data.data).toEqual({ password: "p" });
    expect((await h.call("LIST", "secret/metadata/app", undefined, token)).body.data.keys).toEqual(["admin", "db"]);
    expect(await h.call("POST", "secret/data/app/db", { data: { password: "x" } }, token)).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect(await h.call("GET", "secret/data/app/admin", undefined, token)).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await h.call("DELETE", "secret/data/app/db", undefined, token)).status).toBe(403);
  });

  it("distinguishes create from update by whether the secret exists", async () => {
    await writePolicy(h, "creator", `path "secret/data/app/*" { capabilities = ["create"] }`);
    await writePolicy(h, "updater", `path "secret/data/app/*" { capabilities = ["update"] }`);
    const creator = await tokenWith(h, ["creator"]);
    const updater = await tokenWith(h, ["updater"]);
    expect((await h.call("POST", "secret/data/app/new", { data: { a: 1 } }, creator)).status).toBe(200);
    expect((await h.call("POST", "secret/data/app/db", { data: { a: 1 } }, creator)).status).toBe(403);
    expect((await h.call("POST", "secret/data/app/db", { data: { a: 2 } }, updater)).status).toBe(200);
    expect((await h.call("POST", "secret/data/app/other", { data: { a: 2 } }, updater)).status).toBe(403);
  });

  it("applies policy changes to existing tokens at once", async () => {
    await writePolicy(h, "app", `path "secret/data/app/db" { capabilities = ["read"] }`);
    const token = await tokenWith(h, ["app"]);
    expect((await h.call("GET", "secret/data/app/db", undefined, token)).status).toBe(200);
    await writePolicy(h, "app", `path "secret/data/other" { capabilities = ["read"] }`);
    expect((await h.call("GET", "secret/data/app/db", undefined, token)).status).toBe(403);
    await h.call("DELETE", "sys/policies/acl/app", undefined, h.root);
    expect((await h.call("GET", "secret/data/other", undefined, token)).status).toBe(403);
  });

  it("lets a token learn the mounts it has access under, and only those", async () => {
    await h.call("POST", "sys/mounts/hidden", { type: "kv" }, h.root);
    await writePolicy(h, "app", `path "secret/data/app/*" { capabilities = ["read"] }`);
    const token = await tokenWith(h, ["app"]);
    expect((await h.call("GET", "sys/internal/ui/mounts/secret/app/db", undefined, token)).body.data).toMatchObject({ path: "secret/", type: "kv" });
    expect(await h.call("GET", "sys/internal/ui/mounts/hidden/x", undefined, token)).toEqual({ status: 403, body: PERMISSION_DENIED });
  });

  it("requires sudo on root-protected paths", async () => {
    await writePolicy(
      h,
      "auth-admin",
      `path "sys/auth/*" { capabilities = ["create", "update", "read", "delete"] }\npath "sys/seal" { capabilities = ["update"] }`,
    );
    await writePolicy(h, "auth-sudo", `path "sys/auth/*" { capabilities = ["create", "update", "read", "delete", "sudo"] }`);
    const plain = await tokenWith(h, ["auth-admin"]);
    const sudo = await tokenWith(h, ["auth-sudo"]);
    expect(await h.call("POST", "sys/auth/userpass", { type: "userpass" }, plain)).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await h.call("PUT", "sys/seal", undefined, plain)).status).toBe(403);
    expect((await h.call("POST", "sys/auth/userpass", { type: "userpass" }, sudo)).status).toBe(204);
  });

  it("answers sys/capabilities-self, sys/capabilities and sys/capabilities-accessor", async () => {
    await writePolicy(h, "app", `path "secret/data/app/*" { capabilities = ["read", "update"] }\npath "secret/data/app/admin" { capabilities = ["deny"] }`);
    const created = (await h.call("POST", "auth/token/create", { policies: ["app"] }, h.root)).body.auth;
    const self = await h.call("POST", "sys/capabilities-self", { paths: ["secret/data/app/db", "secret/data/app/admin", "sys/mounts"] }, created.client_token);
    expect(self.body.data).toEqual({ "secret/data/app/db": ["read", "update"], "secret/data/app/admin": ["deny"], "sys/mounts": ["deny"] });
    expect(self.body["secret/data/app/db"]).toEqual(["read", "update"]);
    const single = await h.call("POST", "sys/capabilities", { token: created.client_token, path: "secret/data/app/db" }, h.root);
    expect(single.body.data).toEqual({ "secret/data/app/db": ["read", "update"], capabilities: ["read", "update"] });
    expect(single.body.capabilities).toEqual(["read", "update"]);
    const byAccessor = await h.call("POST", "sys/capabilities-accessor", { accessor: created.accessor, paths: ["x"] }, h.root);
    expect(byAccessor.body.data.capabilities).toEqual(["deny"]);
    expect((await h.call("POST", "sys/capabilities-self", { paths: ["anything"] }, h.root)).body.data.capabilities).toEqual(["root"]);
    // The default policy grants capabilities-self, but not the others.
    expect((await h.call("POST", "sys/capabilities", { token: h.root, paths: ["x"] }, created.client_token)).status).toBe(403);
    expect((await h.call("POST", "sys/capabilities", { token: "hvs.nope", paths: ["x"] }, h.root)).body.errors).toEqual(["invalid token"]);
  });
});

describe("token features", () => {
  let h: Server;
  beforeEach(async () => {
    h = await unsealedServer();
  });

  it("keeps sudo-only token options for sudo callers", async () => {
    await writePolicy(h, "creator", `path "auth/token/create" { capabilities = ["update"] }\npath "auth/token/create-orphan" { capabilities = ["update"] }`);
    const token = await tokenWith(h, ["creator"]);
    expect((await h.call("POST", "auth/token/create", { no_parent: true }, token)).body.errors).toEqual([
      "root or sudo privileges required to create orphan token",
    ]);
    expect((await h.call("POST", "auth/token/create", { period: "1h" }, token)).body.errors).toEqual([
      "root or sudo privileges required to create periodic token",
    ]);
    expect((await h.call("POST", "auth/token/create", { id: "custom" }, token)).body.errors).toEqual(["root or sudo privileges required to specify token id"]);
    expect((await h.call("POST", "auth/token/create", { policies: ["other"] }, token)).body.errors).toEqual(["child policies must be subset of parent"]);
    // create-orphan is governed by its own path's capabilities instead.
    expect((await h.call("POST", "auth/token/create-orphan", {}, token)).body.auth.orphan).toBe(true);
    const child = (await h.call("POST", "auth/token/create", { ttl: "10m" }, token)).body.auth;
    expect(child).toMatchObject({ orphan: false, policies: ["creator", "default"] });
  });

  it("creates periodic tokens for sudo callers and renews them by the period", async () => {
    const periodic = (await h.call("POST", "auth/token/create", { period: "1h", policies: ["default"] }, h.root)).body.auth;
    expect(periodic.lease_duration).toBe(3600);
    h.advance(3000);
    expect((await h.call("POST", "auth/token/renew-self", {}, periodic.client_token)).body.auth.lease_duration).toBe(3600);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, periodic.client_token)).body.data.period).toBe(3600);
  });

  it("revoke-orphan needs sudo and leaves the children as orphans", async () => {
    await writePolicy(h, "parent", `path "auth/token/create" { capabilities = ["update"] }`);
    const parent = await tokenWith(h, ["parent"]);
    const child = (await h.call("POST", "auth/token/create", {}, parent)).body.auth.client_token;
    await writePolicy(h, "revoker", `path "auth/token/revoke-orphan" { capabilities = ["update"] }`);
    const revoker = await tokenWith(h, ["revoker"]);
    expect((await h.call("POST", "auth/token/revoke-orphan", { token: parent }, revoker)).status).toBe(403);
    expect((await h.call("POST", "auth/token/revoke-orphan", { token: parent }, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, parent)).status).toBe(403);
    const survivor = await h.call("GET", "auth/token/lookup-self", undefined, child);
    expect(survivor.body.data).toMatchObject({ orphan: true });
  });

  it("looks up and revokes by accessor", async () => {
    const created = (await h.call("POST", "auth/token/create", {}, h.root)).body.auth;
    expect((await h.call("POST", "auth/token/lookup-accessor", { accessor: created.accessor }, h.root)).body.data).toMatchObject({
      accessor: created.accessor,
      id: "",
    });
    expect((await h.call("POST", "auth/token/revoke-accessor", { accessor: created.accessor }, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, created.client_token)).status).toBe(403);
  });

  it("counts a denied request as a use", async () => {
    const token = await tokenWith(h, ["default"], { num_uses: 2 });
    expect((await h.call("GET", "sys/mounts", undefined, token)).status).toBe(403);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token)).status).toBe(200);
    expect(await h.call("GET", "auth/token/lookup-self", undefined, token)).toEqual({ status: 403, body: INVALID_TOKEN });
  });
});

describe("sys/auth", () => {
  it("lists, enables, reads, tunes and disables auth methods", async () => {
    const h = await unsealedServer();
    const initial = (await h.call("GET", "sys/auth", undefined, h.root)).body;
    expect(Object.keys(initial.data)).toEqual(["token/"]);
    expect(initial["token/"]).toMatchObject({
      type: "token",
      description: "token based credentials",
      accessor: expect.stringMatching(/^auth_token_[0-9a-f]{8}$/),
    });
    expect((await h.call("POST", "sys/auth/people", { type: "userpass", description: "humans" }, h.root)).status).toBe(204);
    expect((await h.call("POST", "sys/auth/people", { type: "userpass" }, h.root)).body.errors).toEqual(["path is already in use at people/"]);
    expect((await h.call("POST", "sys/auth/x", { type: "ldap" }, h.root)).status).toBe(400);
    expect((await h.call("POST", "sys/auth/token2", { type: "token" }, h.root)).body.errors).toEqual(["token credential backend cannot be instantiated"]);
    const listed = (await h.call("GET", "sys/auth", undefined, h.root)).body;
    expect(listed.data["people/"]).toMatchObject({ type: "userpass", description: "humans", accessor: expect.stringMatching(/^auth_userpass_/) });
    expect(listed["people/"]).toEqual(listed.data["people/"]);
    expect((await h.call("GET", "sys/auth/people", undefined, h.root)).body.data.type).toBe("userpass");
    expect((await h.call("POST", "sys/auth/people/tune", { default_lease_ttl: "30m", max_lease_ttl: "1h" }, h.root)).status).toBe(204);
    expect((await h.call("GET", "sys/auth/people/tune", undefined, h.root)).body.data).toMatchObject({ default_lease_ttl: 1800, max_lease_ttl: 3600 });

    // The mount's TTLs apply to its logins; disabling it revokes the tokens it issued.
    await h.call("POST", "auth/people/users/ann", { password: "pw" }, h.root);
    const login = (await h.call("POST", "auth/people/login/ann", { password: "pw" })).body.auth;
    expect(login.lease_duration).toBe(1800);
    expect((await h.call("DELETE", "sys/auth/people", undefined, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, login.client_token)).status).toBe(403);
    // Without the method there is no login path: like any other request, it needs a token.
    expect((await h.call("POST", "auth/people/login/ann", { password: "pw" })).status).toBe(403);
    expect((await h.call("DELETE", "sys/auth/token", undefined, h.root)).body.errors).toEqual(["token credential backend cannot be disabled"]);
    expect((await h.call("DELETE", "sys/auth/never-enabled", undefined, h.root)).status).toBe(204);
  });
});

describe("userpass", () => {
  let h: Server;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/auth/userpass", { type: "userpass" }, h.root);
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    await h.call("PUT", "secret/team", { v: "1" }, h.root);
    await writePolicy(h, "team", `path "secret/team" { capabilities = ["read"] }`);
  });

  it("manages users and logs in with Vault's auth block", async () => {
    expect(
      (await h.call("POST", "auth/userpass/users/Alice", { password: "s3cret", policies: "team, extra", token_ttl: "1h", token_max_ttl: "2h" }, h.root)).status,
    ).toBe(204);
    const user = (await h.call("GET", "auth/userpass/users/alice", undefined, h.root)).body.data;
    expect(user).toMatchObject({ token_policies: ["extra", "team"], token_ttl: 3600, token_max_ttl: 7200, token_bound_cidrs: [], token_type: "default" });
    expect(user.password_hash).toBeUndefined();
    expect((await h.call("LIST", "auth/userpass/users", undefined, h.root)).body.data.keys).toEqual(["alice"]);

    // Login needs no token (one sent anyway is ignored).
    const login = await h.call("POST", "auth/userpass/login/alice", { password: "s3cret" }, "hvs.ignored");
    expect(login.status).toBe(200);
    expect(login.body.data).toBeNull();
    expect(login.body.auth).toMatchObject({
      client_token: expect.stringMatching(/^hvs\./),
      accessor: expect.any(String),
      policies: ["default", "extra", "team"],
      token_policies: ["default", "extra", "team"],
      metadata: { username: "alice" },
      lease_duration: 3600,
      renewable: true,
      // The entity holding the login's alias (identity/), created at the first login.
      entity_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      token_type: "service",
      orphan: true,
    });
    const token = login.body.auth.client_token;
    const self = (await h.call("GET", "auth/token/lookup-self", undefined, token)).body.data;
    expect(self).toMatchObject({ path: "auth/userpass/login/alice", display_name: "userpass-alice", orphan: true, meta: { username: "alice" } });
    expect((await h.call("GET", "secret/team", undefined, token)).body.data).toEqual({ v: "1" });
    expect(await h.call("PUT", "secret/team", { v: "2" }, token)).toEqual({ status: 403, body: PERMISSION_DENIED });
    // Renewal stops at token_max_ttl.
    h.advance(3000);
    expect((await h.call("POST", "auth/token/renew-self", { increment: "5h" }, token)).body.auth.lease_duration).toBe(7200 - 3000);
  });

  it("rejects wrong passwords and unknown users alike", async () => {
    await h.call("POST", "auth/userpass/users/bob", { password: "right" }, h.root);
    expect(await h.call("POST", "auth/userpass/login/bob", { password: "wrong" })).toEqual({ status: 400, body: { errors: ["invalid username or password"] } });
    expect(await h.call("POST", "auth/userpass/login/nobody", { password: "x" })).toEqual({ status: 400, body: { errors: ["invalid username or password"] } });
    expect((await h.call("POST", "auth/userpass/login/bob", {})).body.errors).toEqual(["missing password"]);
    expect((await h.call("POST", "auth/userpass/users/carol", {}, h.root)).body.errors).toEqual(["missing password"]);
  });

  it("changes passwords and policies, and deletes users", async () => {
    await h.call("POST", "auth/userpass/users/dan", { password: "one" }, h.root);
    expect((await h.call("POST", "auth/userpass/users/dan/password", { password: "two" }, h.root)).status).toBe(204);
    expect((await h.call("POST", "auth/userpass/login/dan", { password: "one" })).status).toBe(400);
    expect((await h.call("POST", "auth/userpass/users/dan/policies", { token_policies: ["team"] }, h.root)).status).toBe(204);
    const login = (await h.call("POST", "auth/userpass/login/dan", { password: "two" })).body.auth;
    expect(login.policies).toEqual(["default", "team"]);
    // Updating other fields keeps the password.
    await h.call("POST", "auth/userpass/users/dan", { token_ttl: "5m" }, h.root);
    expect((await h.call("POST", "auth/userpass/login/dan", { password: "two" })).body.auth.lease_duration).toBe(300);
    expect((await h.call("DELETE", "auth/userpass/users/dan", undefined, h.root)).status).toBe(204);
    expect((await h.call("POST", "auth/userpass/login/dan", { password: "two" })).status).toBe(400);
  });

  it("binds logins and tokens to token_bound_cidrs", async () => {
    await h.call("POST", "auth/userpass/users/eve", { password: "pw", token_policies: ["team"], token_bound_cidrs: ["10.0.0.0/8"] }, h.root);
    expect(await h.call("POST", "auth/userpass/login/eve", { password: "pw" }, undefined, "192.168.1.1")).toEqual({ status: 403, body: PERMISSION_DENIED });
    const login = await h.call("POST", "auth/userpass/login/eve", { password: "pw" }, undefined, "::ffff:10.1.2.3");
    expect(login.status).toBe(200);
    const token = login.body.auth.client_token;
    expect((await h.call("GET", "secret/team", undefined, token, "10.9.9.9")).status).toBe(200);
    expect(await h.call("GET", "secret/team", undefined, token, "192.168.1.1")).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token, "10.0.0.1")).body.data.bound_cidrs).toEqual(["10.0.0.0/8"]);
  });

  it("needs create to add users and update to change them (existence check)", async () => {
    await writePolicy(h, "user-creator", `path "auth/userpass/users/*" { capabilities = ["create"] }`);
    const token = await tokenWith(h, ["user-creator"]);
    expect((await h.call("POST", "auth/userpass/users/new", { password: "pw" }, token)).status).toBe(204);
    expect((await h.call("POST", "auth/userpass/users/new", { password: "changed" }, token)).status).toBe(403);
  });

  it("issues tokens with token_num_uses and refuses root", async () => {
    await h.call("POST", "auth/userpass/users/fay", { password: "pw", token_num_uses: 1, token_policies: ["team"] }, h.root);
    const token = (await h.call("POST", "auth/userpass/login/fay", { password: "pw" })).body.auth.client_token;
    expect((await h.call("GET", "secret/team", undefined, token)).status).toBe(200);
    expect((await h.call("GET", "secret/team", undefined, token)).status).toBe(403);
    await h.call("POST", "auth/userpass/users/root-wannabe", { password: "pw", token_policies: ["root"] }, h.root);
    expect((await h.call("POST", "auth/userpass/login/root-wannabe", { password: "pw" })).body.errors).toEqual(["auth methods cannot create root tokens"]);
  });
});

describe("AppRole", () => {
  let h: Server;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/auth/approle", { type: "approle" }, h.root);
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    await h.call("PUT", "secret/app", { db: "x" }, h.root);
    await writePolicy(h, "app", `path "secret/app" { capabilities = ["read"] }`);
  });

  async function roleCredentials(role: string, secretIdData: Json = {}): Promise<{ role_id: string; secret_id: string; secret_id_accessor: string }> {
    const roleId = (await h.call("GET", `auth/approle/role/${role}/role-id`, undefined, h.root)).body.data.role_id;
    const secret = (await h.call("POST", `auth/approle/role/${role}/secret-id`, secretIdData, h.root)).body.data;
    return { role_id: roleId, secret_id: secret.secret_id, secret_id_accessor: secret.secret_id_accessor };
  }

  it("manages roles and logs in with role ID and secret ID", async () => {
    expect((await h.call("POST", "auth/approle/role/web", { token_policies: ["app"], token_ttl: "20m", secret_id_ttl: "1h" }, h.root)).status).toBe(204);
    expect((await h.call("LIST", "auth/approle/role", undefined, h.root)).body.data.keys).toEqual(["web"]);
    const role = (await h.call("GET", "auth/approle/role/web", undefined, h.root)).body.data;
    expect(role).toMatchObject({ bind_secret_id: true, secret_id_ttl: 3600, token_policies: ["app"], token_ttl: 1200, secret_id_num_uses: 0 });
    const roleId = (await h.call("GET", "auth/approle/role/web/role-id", undefined, h.root)).body.data.role_id;
    expect(roleId).toMatch(/^[0-9a-f-]{36}$/);
    const secret = (await h.call("POST", "auth/approle/role/web/secret-id", { metadata: JSON.stringify({ host: "web-1" }) }, h.root)).body.data;
    expect(secret).toMatchObject({ secret_id: expect.any(String), secret_id_accessor: expect.any(String), secret_id_ttl: 3600, secret_id_num_uses: 0 });

    const login = await h.call("POST", "auth/approle/login", { role_id: roleId, secret_id: secret.secret_id });
    expect(login.status).toBe(200);
    expect(login.body.auth).toMatchObject({
      policies: ["app", "default"],
      metadata: { role_name: "web", host: "web-1" },
      lease_duration: 1200,
      orphan: true,
      token_type: "service",
    });
    const token = login.body.auth.client_token;
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token)).body.data).toMatchObject({ path: "auth/approle/login", display_name: "approle" });
    expect((await h.call("GET", "secret/app", undefined, token)).body.data).toEqual({ db: "x" });
    expect((await h.call("DELETE", "secret/app", undefined, token)).status).toBe(403);
  });

  it("rejects bad credentials, used-up and expired secret IDs", async () => {
    await h.call("POST", "auth/approle/role/batch", { token_policies: ["app"], secret_id_num_uses: 2, secret_id_ttl: "10m" }, h.root);
    const creds = await roleCredentials("batch");
    const invalid = { status: 400, body: { errors: ["invalid role or secret ID"] } };
    expect(await h.call("POST", "auth/approle/login", { role_id: creds.role_id, secret_id: "wrong" })).toEqual(invalid);
    expect(await h.call("POST", "auth/approle/login", { role_id: "wrong", secret_id: creds.secret_id })).toEqual(invalid);
    expect((await h.call("POST", "auth/approle/login", { secret_id: creds.secret_id })).body.errors).toEqual(["missing role_id"]);
    expect((await h.call("POST", "auth/approle/login", { role_id: creds.role_id })).body.errors).toEqual(["missing secret_id"]);
    expect((await h.call("POST", "auth/approle/login", creds)).status).toBe(200);
    expect((await h.call("POST", "auth/approle/login", creds)).status).toBe(200);
    expect(await h.call("POST", "auth/approle/login", creds)).toEqual(invalid);
    const expiring = await roleCredentials("batch");
    h.advance(601);
    expect(await h.call("POST", "auth/approle/login", expiring)).toEqual(invalid);
    expect((await h.call("POST", "auth/approle/role/batch/secret-id", { num_uses: 5 }, h.root)).body.errors).toEqual([
      "num_uses cannot be higher than the role's secret_id_num_uses",
    ]);
  });

  it("looks up, lists and destroys secret IDs by value and by accessor", async () => {
    await h.call("POST", "auth/approle/role/svc", { token_policies: ["app"] }, h.root);
    const first = await roleCredentials("svc");
    const second = await roleCredentials("svc");
    const listed = (await h.call("LIST", "auth/approle/role/svc/secret-id", undefined, h.root)).body.data.keys;
    expect(listed).toEqual([first.secret_id_accessor, second.secret_id_accessor].sort());
    const lookup = (await h.call("POST", "auth/approle/role/svc/secret-id/lookup", { secret_id: first.secret_id }, h.root)).body.data;
    expect(lookup).toMatchObject({ secret_id_accessor: first.secret_id_accessor, expiration_time: "0001-01-01T00:00:00Z", metadata: {} });
    expect(
      (await h.call("POST", "auth/approle/role/svc/secret-id-accessor/lookup", { secret_id_accessor: second.secret_id_accessor }, h.root)).body.data
        .secret_id_accessor,
    ).toBe(second.secret_id_accessor);
    expect((await h.call("POST", "auth/approle/role/svc/secret-id/destroy", { secret_id: first.secret_id }, h.root)).status).toBe(204);
    expect((await h.call("POST", "auth/approle/role/svc/secret-id-accessor/destroy", { secret_id_accessor: second.secret_id_accessor }, h.root)).status).toBe(
      204,
    );
    expect((await h.call("POST", "auth/approle/login", { role_id: first.role_id, secret_id: first.secret_id })).status).toBe(400);
    expect((await h.call("POST", "auth/approle/login", { role_id: second.role_id, secret_id: second.secret_id })).status).toBe(400);
    expect((await h.call("POST", "auth/approle/role/svc/secret-id/lookup", { secret_id: first.secret_id }, h.root)).status).toBe(204);
  });

  it("sets a custom role ID and deletes roles with their secret IDs", async () => {
    await h.call("POST", "auth/approle/role/a", { token_policies: ["app"] }, h.root);
    await h.call("POST", "auth/approle/role/b", { token_policies: ["app"] }, h.root);
    expect((await h.call("POST", "auth/approle/role/a/role-id", { role_id: "my-role-id" }, h.root)).status).toBe(204);
    expect((await h.call("POST", "auth/approle/role/b/role-id", { role_id: "my-role-id" }, h.root)).body.errors).toEqual(["role_id already in use"]);
    const creds = await roleCredentials("a");
    expect(creds.role_id).toBe("my-role-id");
    expect((await h.call("POST", "auth/approle/login", creds)).status).toBe(200);
    expect((await h.call("DELETE", "auth/approle/role/a", undefined, h.root)).status).toBe(204);
    expect((await h.call("POST", "auth/approle/login", creds)).status).toBe(400);
    expect((await h.call("GET", "auth/approle/role/a", undefined, h.root)).status).toBe(404);
  });

  it("binds logins to CIDRs: role, secret ID, and role without secret IDs", async () => {
    expect((await h.call("POST", "auth/approle/role/open", { bind_secret_id: false }, h.root)).body.errors).toEqual([
      "at least one constraint should be enabled on the role",
    ]);
    await h.call("POST", "auth/approle/role/net", { bind_secret_id: false, secret_id_bound_cidrs: "10.0.0.0/8", token_policies: ["app"] }, h.root);
    const roleId = (await h.call("GET", "auth/approle/role/net/role-id", undefined, h.root)).body.data.role_id;
    expect((await h.call("POST", "auth/approle/login", { role_id: roleId }, undefined, "10.2.3.4")).status).toBe(200);
    const outside = await h.call("POST", "auth/approle/login", { role_id: roleId }, undefined, "192.168.0.1");
    expect(outside.status).toBe(400);
    expect(outside.body.errors[0]).toMatch(/source address "192.168.0.1" unauthorized by CIDR restrictions on the role/);

    await h.call("POST", "auth/approle/role/pinned", { token_policies: ["app"], secret_id_bound_cidrs: ["10.0.0.0/8"] }, h.root);
    expect((await h.call("POST", "auth/approle/role/pinned/secret-id", { cidr_list: ["192.168.0.0/16"] }, h.root)).status).toBe(400);
    const creds = await roleCredentials("pinned", { cidr_list: ["10.1.0.0/16"], token_bound_cidrs: ["10.1.0.0/16"] });
    expect((await h.call("POST", "auth/approle/login", creds, undefined, "10.2.0.1")).body.errors[0]).toMatch(/CIDR restrictions on the secret ID/);
    const login = await h.call("POST", "auth/approle/login", creds, undefined, "10.1.0.1");
    expect(login.status).toBe(200);
    expect((await h.call("GET", "secret/app", undefined, login.body.auth.client_token, "10.2.0.1")).status).toBe(403);
    expect((await h.call("GET", "secret/app", undefined, login.body.auth.client_token, "10.1.9.9")).status).toBe(200);
  });
});
