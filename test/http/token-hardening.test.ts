import { beforeEach, describe, expect, it } from "vitest";
import { INVALID_TOKEN, type Json, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

/** The shared in-process server with a kv mount, a secret, and an `app` policy that reads it and creates tokens. */
async function appServer() {
  const h = await unsealedServer();
  await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
  await h.call("PUT", "secret/app", { db: "x" }, h.root);
  await h.call(
    "PUT",
    "sys/policies/acl/app",
    { policy: `path "secret/app" { capabilities = ["read"] }\npath "auth/token/create" { capabilities = ["update"] }` },
    h.root,
  );
  return h;
}

type Server = Awaited<ReturnType<typeof appServer>>;

async function createToken(h: Server, body: Json, as: string, from?: string): Promise<string> {
  const created = await h.call("POST", "auth/token/create", body, as, from);
  expect(created.body).toHaveProperty("auth.client_token");
  return created.body.auth.client_token;
}

function countStatuses(responses: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe("use-limited tokens", () => {
  let h: Server;
  beforeEach(async () => {
    h = await appServer();
  });

  it("serve exactly num_uses requests however many arrive at once", async () => {
    const once = await createToken(h, { policies: ["app"], num_uses: 1 }, h.root);
    const reads = await Promise.all(Array.from({ length: 25 }, () => h.call("GET", "secret/app", undefined, once)));
    expect(countStatuses(reads)).toEqual({ 200: 1, 403: 24 });
    expect(reads.find((r) => r.status === 403)!.body).toEqual(INVALID_TOKEN);

    const thrice = await createToken(h, { policies: ["app"], num_uses: 3 }, h.root);
    const more = await Promise.all(Array.from({ length: 25 }, () => h.call("GET", "secret/app", undefined, thrice)));
    expect(countStatuses(more)).toEqual({ 200: 3, 403: 22 });
  });

  it("keep their remaining uses through a renewal", async () => {
    const token = await createToken(h, { policies: ["app"], num_uses: 3, ttl: "1h" }, h.root);
    expect((await h.call("POST", "auth/token/renew-self", {}, token)).status).toBe(200);
    expect((await h.call("POST", "auth/token/lookup", { token }, h.root)).body.data.num_uses).toBe(2);
  });

  it("cannot create child tokens", async () => {
    const limited = await createToken(h, { policies: ["root"], num_uses: 5 }, h.root);
    for (const path of ["auth/token/create", "auth/token/create-orphan"]) {
      expect(await h.call("POST", path, { policies: ["app"] }, limited)).toEqual({
        status: 400,
        body: { errors: ["restricted use token cannot generate child tokens"] },
      });
    }
  });
});

describe("token tree", () => {
  let h: Server;
  beforeEach(async () => {
    h = await appServer();
  });

  it("children and grandchildren stop working the moment their parent expires", async () => {
    const parent = await createToken(h, { policies: ["app"], ttl: "60s" }, h.root);
    const child = await createToken(h, { policies: ["app"], ttl: "1h" }, parent);
    const grandchild = await createToken(h, { policies: ["app"], ttl: "1h" }, child);
    expect((await h.call("GET", "secret/app", undefined, grandchild)).status).toBe(200);
    h.advance(61);
    expect(await h.call("GET", "secret/app", undefined, grandchild)).toEqual({ status: 403, body: INVALID_TOKEN });
    expect(await h.call("GET", "auth/token/lookup-self", undefined, child)).toEqual({ status: 403, body: INVALID_TOKEN });
    expect((await h.call("POST", "auth/token/lookup", { token: grandchild }, h.root)).status).toBe(403);
  });

  it("children inherit their parent's bound_cidrs", async () => {
    const bound = await loginBound(h, ["10.0.0.0/8"]);
    const child = await createToken(h, { policies: ["app"] }, bound, "10.1.2.3");
    expect(await h.call("GET", "secret/app", undefined, child, "192.168.1.1")).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await h.call("GET", "secret/app", undefined, child, "10.9.9.9")).status).toBe(200);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, child, "10.9.9.9")).body.data.bound_cidrs).toEqual(["10.0.0.0/8"]);
  });
});

/** An AppRole login token bound to `cidrs`, with the `app` policy. */
async function loginBound(h: Server, cidrs: string[]): Promise<string> {
  await h.call("POST", "sys/auth/approle", { type: "approle" }, h.root);
  await h.call("POST", "auth/approle/role/bound", { token_policies: ["app"], token_bound_cidrs: cidrs }, h.root);
  const roleId = (await h.call("GET", "auth/approle/role/bound/role-id", undefined, h.root)).body.data.role_id;
  const secretId = (await h.call("POST", "auth/approle/role/bound/secret-id", {}, h.root)).body.data.secret_id;
  const login = await h.call("POST", "auth/approle/login", { role_id: roleId, secret_id: secretId }, undefined, "10.1.2.3");
  expect(login.status).toBe(200);
  return login.body.auth.client_token;
}

describe("root tokens with a TTL", () => {
  it("cannot create root tokens that never expire", async () => {
    const h = await appServer();
    const expiringRoot = await createToken(h, { policies: ["root"], ttl: "1h" }, h.root);
    const refused = { status: 400, body: { errors: ["expiring root tokens cannot create non-expiring root tokens"] } };
    expect(await h.call("POST", "auth/token/create", { policies: ["root"] }, expiringRoot)).toEqual(refused);
    expect(await h.call("POST", "auth/token/create-orphan", { policies: ["root"] }, expiringRoot)).toEqual(refused);
    const child = await createToken(h, { policies: ["root"], ttl: "10m" }, expiringRoot);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, child)).body.data.ttl).toBe(600);
    // The non-expiring root token still can.
    expect((await h.call("GET", "auth/token/lookup-self", undefined, await createToken(h, { policies: ["root"] }, h.root))).body.data.expire_time).toBeNull();
  });
});

describe("AppRole secret ID uses", () => {
  let h: Server;
  beforeEach(async () => {
    h = await appServer();
    await h.call("POST", "sys/auth/approle", { type: "approle" }, h.root);
  });

  async function credentials(role: Json): Promise<{ role_id: string; secret_id: string }> {
    expect((await h.call("POST", "auth/approle/role/web", { token_policies: ["app"], ...role }, h.root)).status).toBe(204);
    const roleId = (await h.call("GET", "auth/approle/role/web/role-id", undefined, h.root)).body.data.role_id;
    const secretId = (await h.call("POST", "auth/approle/role/web/secret-id", {}, h.root)).body.data.secret_id;
    return { role_id: roleId, secret_id: secretId };
  }

  it("a single-use secret ID yields one token however many logins race", async () => {
    const creds = await credentials({ secret_id_num_uses: 1 });
    const logins = await Promise.all(Array.from({ length: 10 }, () => h.call("POST", "auth/approle/login", creds)));
    expect(countStatuses(logins)).toEqual({ 200: 1, 400: 9 });
    expect(logins.find((r) => r.status === 400)!.body).toEqual({ errors: ["invalid role or secret ID"] });
  });

  it("a login from outside the role's secret_id_bound_cidrs does not spend a use", async () => {
    const creds = await credentials({ secret_id_num_uses: 1, secret_id_bound_cidrs: ["10.0.0.0/8"] });
    const outside = await h.call("POST", "auth/approle/login", creds, undefined, "192.168.1.1");
    expect(outside).toEqual({ status: 400, body: { errors: ['source address "192.168.1.1" unauthorized by CIDR restrictions on the role'] } });
    expect((await h.call("POST", "auth/approle/login", creds, undefined, "10.1.2.3")).status).toBe(200);
  });
});
