import { beforeEach, describe, expect, it } from "vitest";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

describe("request parsing as Vault's Go code", () => {
  let h: InProcessServer;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/mounts/kv1", { type: "kv" }, h.root);
    await h.call("PUT", "kv1/a", { v: "1" }, h.root);
  });

  it("reads ?list= with strconv.ParseBool's words and refuses anything else", async () => {
    for (const yes of ["1", "t", "T", "TRUE", "true", "True"]) {
      expect((await h.call("GET", `kv1/?list=${yes}`, undefined, h.root)).body.data, yes).toEqual({ keys: ["a"] });
    }
    for (const no of ["0", "f", "F", "FALSE", "false", "False", ""]) {
      expect((await h.call("GET", `kv1/a?list=${no}`, undefined, h.root)).body.data, no).toEqual({ v: "1" });
    }
    for (const garbage of ["yes", "on", "2", "tRuE"]) {
      const answer = await h.call("GET", `kv1/?list=${garbage}`, undefined, h.root);
      expect(answer.status, garbage).toBe(400);
      expect(answer.body.errors[0]).toMatch(/invalid list/);
    }
  });

  it("takes JSON null for an optional field as not set", async () => {
    const created = await h.call(
      "POST",
      "auth/token/create",
      { policies: null, ttl: null, period: null, explicit_max_ttl: null, num_uses: null, renewable: null, no_parent: null, id: null },
      h.root,
    );
    expect(created.status).toBe(200);
    expect(created.body.auth).toMatchObject({ policies: ["root"], renewable: false, num_uses: 0 });
    await h.call("POST", "auth/token/roles/r", { allowed_policies: ["x"], orphan: null, period: null }, h.root);
    expect((await h.call("GET", "auth/token/roles/r", undefined, h.root)).body.data).toMatchObject({ orphan: false, period: 0 });
  });

  it("accepts any integer as kv v2 cas, and a mismatch is Vault's 400", async () => {
    await h.call("POST", "sys/mounts/kv2", { type: "kv-v2" }, h.root);
    const write = (cas: unknown) => h.call("POST", "kv2/data/s", { options: { cas }, data: { v: String(cas) } }, h.root);
    expect((await write(0)).status).toBe(200);
    expect((await write("1")).body.data.version).toBe(2);
    expect((await write(" 2 ")).body.data.version).toBe(3);
    for (const wrong of [-1, "-3", 99, "12345678901234567890", 0]) {
      expect((await write(wrong)).body, String(wrong)).toEqual({ errors: ["check-and-set parameter did not match the current version"] });
    }
    const huge = await h.callText("POST", "kv2/data/s", '{"options":{"cas":123456789012345678901234567890},"data":{"v":"x"}}', h.root);
    expect(JSON.parse(huge.text)).toEqual({ errors: ["check-and-set parameter did not match the current version"] });
    for (const bad of ["x", 1.5, true, ["1"]]) {
      expect((await write(bad)).body.errors[0], JSON.stringify(bad)).toMatch(/error parsing check-and-set parameter/);
    }
  });
});

describe("LIST of an empty collection", () => {
  let h: InProcessServer;
  beforeEach(async () => {
    h = await unsealedServer();
  });

  it("answers 404 with an empty errors list on every endpoint that lists", async () => {
    await h.call("POST", "sys/mounts/kv1", { type: "kv" }, h.root);
    await h.call("POST", "sys/mounts/kv2", { type: "kv-v2" }, h.root);
    await h.call("POST", "sys/auth/approle", { type: "approle" }, h.root);
    await h.call("POST", "sys/auth/userpass", { type: "userpass" }, h.root);
    const expectEmpty = async (path: string) => {
      const answer = await h.call("LIST", path, undefined, h.root);
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 404, body: { errors: [] } });
    };
    await expectEmpty("auth/approle/role");
    await h.call("PUT", "auth/approle/role/empty", {}, h.root);
    for (const path of ["kv1/", "kv1/missing/", "kv2/metadata/", "auth/approle/role/empty/secret-id", "auth/userpass/users", "auth/token/roles", "cubbyhole/"])
      await expectEmpty(path);
    await h.call("PUT", "kv1/x", { a: "b" }, h.root);
    expect((await h.call("LIST", "kv1/", undefined, h.root)).body.data.keys).toEqual(["x"]);
  });
});

describe("approle custom-secret-id", () => {
  let h: InProcessServer;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/auth/approle", { type: "approle" }, h.root);
    await h.call("PUT", "auth/approle/role/app", { token_policies: "app", secret_id_num_uses: 5 }, h.root);
  });

  it("registers the given secret ID with its metadata, uses, TTL and CIDRs, and logs in with it", async () => {
    const roleId = (await h.call("GET", "auth/approle/role/app/role-id", undefined, h.root)).body.data.role_id;
    const made = await h.call(
      "POST",
      "auth/approle/role/app/custom-secret-id",
      { secret_id: "my-own-secret", metadata: { team: "a" }, num_uses: 2, ttl: "1h", cidr_list: "127.0.0.0/8" },
      h.root,
    );
    expect(made.body.data).toMatchObject({ secret_id: "my-own-secret", secret_id_num_uses: 2, secret_id_ttl: 3600, secret_id_accessor: expect.any(String) });
    const looked = (await h.call("POST", "auth/approle/role/app/secret-id/lookup", { secret_id: "my-own-secret" }, h.root)).body.data;
    expect(looked).toMatchObject({ metadata: { team: "a" }, cidr_list: ["127.0.0.0/8"], secret_id_num_uses: 2 });
    const login = await h.call("POST", "auth/approle/login", { role_id: roleId, secret_id: "my-own-secret" });
    expect(login.body.auth.metadata).toMatchObject({ team: "a", role_name: "app" });
    expect((await h.call("POST", "auth/approle/login", { role_id: roleId, secret_id: "my-own-secret" }, undefined, "10.0.0.1")).status).toBe(400);
  });

  it("refuses a duplicate, a missing secret_id, and limits beyond the role's", async () => {
    await h.call("POST", "auth/approle/role/app/custom-secret-id", { secret_id: "dup" }, h.root);
    expect((await h.call("POST", "auth/approle/role/app/custom-secret-id", { secret_id: "dup" }, h.root)).body).toEqual({
      errors: ["SecretID is already registered"],
    });
    expect((await h.call("POST", "auth/approle/role/app/custom-secret-id", {}, h.root)).body).toEqual({ errors: ["missing secret_id"] });
    expect((await h.call("POST", "auth/approle/role/app/custom-secret-id", { secret_id: "s2", num_uses: 9 }, h.root)).status).toBe(400);
    expect((await h.call("GET", "auth/approle/role/app/custom-secret-id", undefined, h.root)).status).toBe(405);
  });
});
