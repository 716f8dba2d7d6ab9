import { beforeEach, describe, expect, it } from "vitest";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

describe("token roles", () => {
  let h: InProcessServer;
  beforeEach(async () => {
    h = await unsealedServer();
  });
  const createFrom = (role: string, body: Record<string, unknown>, token = h.root) => h.call("POST", `auth/token/create/${role}`, body, token);

  it("are written, read (with the legacy field names), listed and deleted", async () => {
    expect((await h.call("LIST", "auth/token/roles", undefined, h.root)).body).toEqual({ errors: [] });
    const written = await h.call(
      "POST",
      "auth/token/roles/CI",
      { allowed_policies: "a, B", period: "1h", explicit_max_ttl: 7200, orphan: "true", path_suffix: "v1" },
      h.root,
    );
    expect(written.status).toBe(204);
    const read = (await h.call("GET", "auth/token/roles/ci", undefined, h.root)).body.data;
    expect(read).toMatchObject({
      name: "ci",
      allowed_policies: ["a", "b"],
      disallowed_policies: [],
      orphan: true,
      renewable: true,
      token_period: 3600,
      period: 3600,
      token_explicit_max_ttl: 7200,
      explicit_max_ttl: 7200,
      path_suffix: "v1",
      token_type: "default-service",
    });
    await h.call("POST", "auth/token/roles/other", {}, h.root);
    expect((await h.call("GET", "auth/token/roles?list=true", undefined, h.root)).body.data.keys).toEqual(["ci", "other"]);
    expect((await h.call("DELETE", "auth/token/roles/ci", undefined, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/roles/ci", undefined, h.root)).status).toBe(404);
  });

  it("refuse bad fields with 400", async () => {
    for (const body of [
      { period: "soon" },
      { orphan: "maybe" },
      { token_bound_cidrs: ["10.0.0.0/99"] },
      { token_type: "batch" },
      { path_suffix: "../x" },
      { allowed_policies: [1] },
    ]) {
      const answer = await h.call("POST", "auth/token/roles/bad", body, h.root);
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    expect((await h.call("POST", "auth/token/roles/a%20b", {}, h.root)).status).toBe(400);
    expect((await createFrom("missing", {})).body).toEqual({ errors: ["unknown role missing"] });
  });

  it("limit policies to the allowed ones, default to them, and add default", async () => {
    await h.call("POST", "auth/token/roles/app", { allowed_policies: ["app", "shared"] }, h.root);
    const plain = await createFrom("app", {});
    expect(plain.body.auth.policies).toEqual(["app", "default", "shared"]);
    expect((await createFrom("app", { policies: ["app"] })).body.auth.policies).toEqual(["app", "default"]);
    expect((await createFrom("app", { policies: ["app"], no_default_policy: true })).body.auth.policies).toEqual(["app"]);
    const outside = await createFrom("app", { policies: ["app", "admin"] });
    expect(outside.status).toBe(400);
    expect(outside.body.errors[0]).toMatch(/must be subset of the role's allowed policies/);
  });

  it("let a caller without the policies create tokens with them when the role allows them (not otherwise)", async () => {
    await h.writePolicy("creator", `path "auth/token/create/app" { capabilities = ["update"] }\npath "auth/token/create" { capabilities = ["update"] }`);
    const creator = await h.tokenWith(["creator"]);
    await h.call("POST", "auth/token/roles/app", { allowed_policies: ["app"] }, h.root);
    expect((await createFrom("app", {}, creator)).body.auth.policies).toEqual(["app", "default"]);
    expect((await h.call("POST", "auth/token/create", { policies: ["app"] }, creator)).body.errors[0]).toMatch(/subset of parent/);
    await h.call("POST", "auth/token/roles/open", {}, h.root);
    expect((await createFrom("open", { policies: ["app"] }, creator)).status).toBe(403);
  });

  it("with no allowed policies, keep tokens within the caller's, and never grant disallowed ones or glob matches", async () => {
    await h.writePolicy("creator", `path "auth/token/create/*" { capabilities = ["update"] }`);
    const creator = await h.tokenWith(["creator", "ops-read"]);
    await h.call("POST", "auth/token/roles/open", { disallowed_policies: ["ops-read"] }, h.root);
    expect((await createFrom("open", {}, creator)).status).toBe(400);
    expect((await createFrom("open", { policies: ["creator"] }, creator)).body.auth.policies).toEqual(["creator", "default"]);
    expect((await createFrom("open", { policies: ["admin"] }, creator)).body.errors[0]).toMatch(/subset of parent/);
    await h.call("POST", "auth/token/roles/globbed", { allowed_policies_glob: ["team-*"], disallowed_policies_glob: ["*-admin"] }, h.root);
    expect((await createFrom("globbed", { policies: ["team-a"] })).body.auth.policies).toEqual(["default", "team-a"]);
    expect((await createFrom("globbed", { policies: ["team-admin"] })).body.errors[0]).toMatch(/disallowed by the role/);
    expect((await createFrom("globbed", { policies: ["other"] })).status).toBe(400);
    await h.call("POST", "auth/token/roles/nodefault", { disallowed_policies: ["default"] }, h.root);
    expect((await createFrom("nodefault", { policies: ["x"] })).body.auth.policies).toEqual(["x"]);
  });

  it("make orphans, periodic or non-renewable tokens, cap the explicit max TTL and uses, and set the path", async () => {
    await h.call(
      "POST",
      "auth/token/roles/svc",
      { orphan: true, token_period: "10m", renewable: false, path_suffix: "prod", token_explicit_max_ttl: "1h", token_num_uses: 5 },
      h.root,
    );
    const created = (await createFrom("svc", { policies: ["x"], explicit_max_ttl: "2h", num_uses: 9 })).body.auth;
    expect(created).toMatchObject({ orphan: true, renewable: false, num_uses: 5 });
    const looked = (await h.call("POST", "auth/token/lookup", { token: created.client_token }, h.root)).body.data;
    expect(looked).toMatchObject({ period: 600, explicit_max_ttl: 3600, path: "auth/token/create/svc/prod", ttl: 600 });
    await h.call("POST", "auth/token/roles/child", {}, h.root);
    expect((await createFrom("child", {})).body.auth.orphan).toBe(false);
  });

  it("bind tokens to the role's CIDRs", async () => {
    await h.call("POST", "auth/token/roles/bound", { token_bound_cidrs: ["10.1.0.0/16"] }, h.root);
    const token = (await createFrom("bound", { policies: [], ttl: "1h" })).body.auth.client_token;
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token, "10.1.2.3")).status).toBe(200);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, token, "10.2.0.1")).status).toBe(403);
  });

  it("are names judged case-insensitively by the ACL", async () => {
    await h.writePolicy("limited", `path "auth/token/create/*" { capabilities = ["update"] }\npath "auth/token/create/admin" { capabilities = ["deny"] }`);
    const limited = await h.tokenWith(["limited"]);
    await h.call("POST", "auth/token/roles/admin", {}, h.root);
    expect((await createFrom("ADMIN", {}, limited)).status).toBe(403);
  });
});

describe("LIST auth/token/accessors", () => {
  it("lists the live tokens' accessors to sudo holders only", async () => {
    const h = await unsealedServer();
    const token = (await h.call("POST", "auth/token/create", { policies: ["lister"], ttl: "1m" }, h.root)).body.auth;
    const self = (await h.call("GET", "auth/token/lookup-self", undefined, h.root)).body.data.accessor;
    expect((await h.call("LIST", "auth/token/accessors", undefined, h.root)).body.data.keys).toEqual([self, token.accessor].sort());
    await h.writePolicy("lister", `path "auth/token/accessors" { capabilities = ["list"] }`);
    expect((await h.call("LIST", "auth/token/accessors", undefined, token.client_token)).status).toBe(403);
    h.advance(61);
    expect((await h.call("LIST", "auth/token/accessors/", undefined, h.root)).body.data.keys).toEqual([self]);
  });
});
