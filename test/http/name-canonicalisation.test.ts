/**
 * A deny on a user, role or policy cannot be dodged by spelling its name differently: the ACL judges
 * the canonical name (lower case), and names with whitespace, control characters or "/" are refused.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { approle } from "../../src/builtin/approle/approle.js";
import { userpass } from "../../src/builtin/userpass/userpass.js";
import type { AuthRequest } from "../../src/sdk/auth.js";
import { type InProcessServer, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

const ALIASES_OF_ADMIN = ["%20admin", "ADMIN", "admin%09", "Admin", "admin%0A"];

describe("userpass user names", () => {
  let h: InProcessServer;
  let operator: string;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/auth/userpass", { type: "userpass" }, h.root);
    await h.call("PUT", "auth/userpass/users/admin", { password: "admin-secret", token_policies: "admin" }, h.root);
    await h.writePolicy(
      "operator",
      `
      path "auth/userpass/users/*" { capabilities = ["create", "read", "update", "delete", "list"] }
      path "auth/userpass/users/admin" { capabilities = ["deny"] }
      path "auth/userpass/users/admin/*" { capabilities = ["deny"] }
    `,
    );
    operator = await h.tokenWith(["operator"]);
  });

  it("a deny on admin covers every spelling of admin: no password change, no login with it", async () => {
    for (const alias of ALIASES_OF_ADMIN) {
      const written = await h.call("PUT", `auth/userpass/users/${alias}/password`, { password: "stolen" }, operator);
      expect(written.status, alias).toBeGreaterThanOrEqual(400);
      expect(written.status, alias).toBeLessThan(500);
      const overwritten = await h.call("PUT", `auth/userpass/users/${alias}`, { password: "stolen" }, operator);
      expect(overwritten.status, alias).toBeGreaterThanOrEqual(400);
      expect(overwritten.status, alias).toBeLessThan(500);
      expect((await h.call("DELETE", `auth/userpass/users/${alias}`, undefined, operator)).status, alias).toBeGreaterThanOrEqual(400);
    }
    expect((await h.call("PUT", "auth/userpass/login/admin", { password: "stolen" })).status).toBe(400);
    expect((await h.call("PUT", "auth/userpass/login/admin", { password: "admin-secret" })).status).toBe(200);
  });

  it("upper case is the same user, judged as such; whitespace is a 400 naming the problem", async () => {
    expect(await h.call("PUT", "auth/userpass/users/ADMIN/password", { password: "x" }, operator)).toEqual({ status: 403, body: PERMISSION_DENIED });
    const spaced = await h.call("PUT", "auth/userpass/users/%20admin/password", { password: "x" }, operator);
    expect(spaced).toEqual({ status: 400, body: { errors: [`invalid username " admin": whitespace, control characters and "/" are not allowed`] } });
    // Names the operator may manage still work in any case, stored lower-case.
    expect((await h.call("PUT", "auth/userpass/users/Mary", { password: "m" }, operator)).status).toBe(204);
    expect((await h.call("LIST", "auth/userpass/users", undefined, operator)).body.data.keys).toEqual(["admin", "mary"]);
    expect((await h.call("PUT", "auth/userpass/login/MARY", { password: "m" })).body.auth.metadata).toEqual({ username: "mary" });
  });

  it("behind the ACL, the handler refuses a non-canonical name instead of canonicalising it", async () => {
    const request = (path: string): AuthRequest => ({ operation: "update", path, data: { password: "x" }, storage: failingStorage, mount, now: 0 });
    for (const path of ["users/ADMIN/password", "users/ admin", "users/admin\t"]) {
      await expect(userpass.handle(request(path)), path).rejects.toMatchObject({ status: 400 });
    }
    for (const path of ["users/ADMIN", "users/ admin"]) await expect(userpass.exists(request(path)), path).rejects.toMatchObject({ status: 400 });
  });
});

describe("approle role names", () => {
  it("a deny on a role covers every spelling of it, and a trailing slash", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/auth/approle", { type: "approle" }, h.root);
    expect((await h.call("PUT", "auth/approle/role/admin", { token_policies: "admin" }, h.root)).status).toBe(204);
    await h.writePolicy(
      "operator",
      `
      path "auth/approle/role/*" { capabilities = ["create", "read", "update", "delete", "list"] }
      path "auth/approle/role/admin" { capabilities = ["deny"] }
      path "auth/approle/role/admin/*" { capabilities = ["deny"] }
    `,
    );
    const operator = await h.tokenWith(["operator"]);
    for (const alias of [...ALIASES_OF_ADMIN, "admin/"]) {
      for (const path of [`auth/approle/role/${alias}`, `auth/approle/role/${alias}/secret-id`, `auth/approle/role/${alias}/role-id`]) {
        const result = await h.call("PUT", path, { role_id: "chosen-by-attacker", token_policies: "root-ish" }, operator);
        expect([400, 403], `${path}: ${JSON.stringify(result)}`).toContain(result.status);
      }
    }
    expect((await h.call("GET", "auth/approle/role/admin", undefined, h.root)).body.data.token_policies).toEqual(["admin"]);
    const request: AuthRequest = { operation: "update", path: "role/ADMIN/secret-id", data: {}, storage: failingStorage, mount, now: 0 };
    await expect(approle.handle(request)).rejects.toMatchObject({ status: 400 });
  });
});

describe("policy names", () => {
  let h: InProcessServer;
  let operator: string;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.writePolicy("admin", `path "secret/*" { capabilities = ["read"] }`);
    await h.writePolicy(
      "operator",
      `
      path "sys/policies/acl/*" { capabilities = ["create", "read", "update", "delete", "list"] }
      path "sys/policy/*" { capabilities = ["create", "read", "update", "delete", "list"] }
      path "sys/policies/acl/admin" { capabilities = ["deny"] }
      path "sys/policy/admin" { capabilities = ["deny"] }
    `,
    );
    operator = await h.tokenWith(["operator"]);
  });

  it("a deny on a policy covers every spelling of its name, with or without a trailing slash", async () => {
    const takeover = `path "*" { capabilities = ["sudo", "create", "read", "update", "delete", "list"] }`;
    for (const alias of [...ALIASES_OF_ADMIN, "admin/", "Admin//"]) {
      for (const prefix of ["sys/policies/acl", "sys/policy"]) {
        const result = await h.call("PUT", `${prefix}/${alias}`, { policy: takeover }, operator);
        expect([400, 403], `${prefix}/${alias}: ${JSON.stringify(result)}`).toContain(result.status);
        expect([400, 403]).toContain((await h.call("DELETE", `${prefix}/${alias}`, undefined, operator)).status);
      }
    }
    expect((await h.call("GET", "sys/policies/acl/admin", undefined, h.root)).body.data.policy).toBe(`path "secret/*" { capabilities = ["read"] }`);
    expect((await h.call("LIST", "sys/policies/acl", undefined, h.root)).body.data.keys).toEqual(["admin", "default", "operator", "root"]);
  });

  it("other policies may still be written in any case, stored lower-case", async () => {
    expect((await h.call("PUT", "sys/policies/acl/Team", { policy: `path "a" { capabilities = ["read"] }` }, operator)).status).toBe(204);
    expect((await h.call("GET", "sys/policies/acl/team", undefined, operator)).body.data.name).toBe("team");
    expect(await h.call("PUT", "sys/policies/acl/te%20am", { policy: `path "a" { capabilities = ["read"] }` }, operator)).toEqual({
      status: 400,
      body: { errors: [`invalid policy name "te am": whitespace, control characters and "/" are not allowed`] },
    });
  });
});

describe("mount paths", () => {
  it("a deny on sys/mounts/<path> covers sys/mounts/<path>/", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    await h.writePolicy(
      "operator",
      `
      path "sys/mounts/*" { capabilities = ["create", "read", "update", "delete"] }
      path "sys/mounts/secret" { capabilities = ["deny"] }
    `,
    );
    const operator = await h.tokenWith(["operator"]);
    for (const alias of ["secret/", "secret//", "/secret"]) {
      expect(await h.call("DELETE", `sys/mounts/${alias}`, undefined, operator), alias).toEqual({ status: 403, body: PERMISSION_DENIED });
    }
    expect((await h.call("GET", "sys/mounts", undefined, h.root)).body.data["secret/"]).toBeDefined();
  });
});

const mount = {
  path: "m/",
  type: "test",
  description: "",
  accessor: "a",
  uuid: "u",
  config: { default_lease_ttl: 0, max_lease_ttl: 0 },
  options: {},
  local: false,
  seal_wrap: false,
};
/** Storage a handler must not reach for a name it refuses. */
const failingStorage = {
  get: () => Promise.reject(new Error("storage read")),
  put: () => Promise.reject(new Error("storage write")),
  delete: () => Promise.reject(new Error("storage delete")),
  list: () => Promise.reject(new Error("storage list")),
};
