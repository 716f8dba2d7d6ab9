import { beforeEach, describe, expect, it } from "vitest";
import { INVALID_TOKEN, type InProcessServer, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

describe("sys/leases: token leases under their creation path", () => {
  let h: InProcessServer;
  const login = async (user: string) => (await h.call("POST", `auth/userpass/login/${user}`, { password: "pw" })).body.auth;
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/auth/userpass", { type: "userpass" }, h.root);
    for (const user of ["alice", "bob"]) await h.call("POST", `auth/userpass/users/${user}`, { password: "pw" }, h.root);
  });

  it("looks a lease up by <creation path>/<accessor>, and lists lease IDs by prefix (sudo)", async () => {
    const alice = await login("alice");
    const leaseId = `auth/userpass/login/alice/${alice.accessor}`;
    const looked = await h.call("PUT", "sys/leases/lookup", { lease_id: leaseId }, h.root);
    expect(looked.body.data).toMatchObject({ id: leaseId, renewable: true, ttl: alice.lease_duration, last_renewal: null });
    expect(Date.parse(looked.body.data.expire_time)).toBeGreaterThan(Date.parse(looked.body.data.issue_time));
    expect((await h.call("PUT", "sys/leases/lookup", { lease_id: "auth/userpass/login/bob/" + alice.accessor }, h.root)).body).toEqual({
      errors: ["invalid lease"],
    });
    expect((await h.call("PUT", "sys/leases/lookup", {}, h.root)).body).toEqual({ errors: ["missing lease_id"] });

    await login("bob");
    expect((await h.call("LIST", "sys/leases/lookup/auth/userpass/login", undefined, h.root)).body.data.keys).toEqual(["alice/", "bob/"]);
    expect((await h.call("LIST", "sys/leases/lookup/auth/userpass/login/alice/", undefined, h.root)).body.data.keys).toEqual([alice.accessor]);
    expect((await h.call("LIST", "sys/leases/lookup/auth/nothing/", undefined, h.root)).status).toBe(404);
    await h.writePolicy("leases", `path "sys/leases/*" { capabilities = ["update", "list"] }`);
    const noSudo = await h.tokenWith(["leases"]);
    expect((await h.call("LIST", "sys/leases/lookup/auth/", undefined, noSudo)).body).toEqual(PERMISSION_DENIED);
    expect((await h.call("PUT", "sys/leases/lookup", { lease_id: leaseId }, noSudo)).status).toBe(200);
  });

  it("revokes one lease (body or path, legacy alias too), and unknown ones quietly", async () => {
    const [a1, a2, bob] = [await login("alice"), await login("alice"), await login("bob")];
    expect((await h.call("PUT", "sys/leases/revoke", { lease_id: `auth/userpass/login/alice/${a1.accessor}` }, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, a1.client_token)).body).toEqual(INVALID_TOKEN);
    expect((await h.call("PUT", `sys/revoke/auth/userpass/login/alice/${a2.accessor}`, {}, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, a2.client_token)).status).toBe(403);
    expect((await h.call("PUT", "sys/leases/revoke", { lease_id: "auth/userpass/login/alice/nope" }, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, bob.client_token)).status).toBe(200);
  });

  it("revokes every token under a prefix, as a folder, and only with sudo", async () => {
    const [alice, bob] = [await login("alice"), await login("bob")];
    const child = (await h.call("POST", "auth/token/create", { policies: [] }, h.root)).body.auth.client_token;
    await h.writePolicy("leases", `path "sys/leases/*" { capabilities = ["update"] }`);
    const noSudo = await h.tokenWith(["leases"]);
    expect((await h.call("PUT", "sys/leases/revoke-prefix/auth/userpass/", {}, noSudo)).body).toEqual(PERMISSION_DENIED);
    expect((await h.call("PUT", "sys/leases/revoke-prefix/auth/userpass/login/ali", {}, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, alice.client_token)).status).toBe(200);
    expect((await h.call("PUT", "sys/leases/revoke-prefix/auth/userpass/login/alice", {}, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, alice.client_token)).status).toBe(403);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, bob.client_token)).status).toBe(200);
    expect((await h.call("PUT", "sys/leases/revoke-force/auth/userpass", {}, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, bob.client_token)).status).toBe(403);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, child)).status).toBe(200);
    expect((await h.call("PUT", "sys/revoke-prefix/auth/token/create", {}, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, child)).status).toBe(403);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, h.root)).status).toBe(200);
  });

  it("sends token renewals to auth/token/renew, and refuses other methods", async () => {
    const alice = await login("alice");
    const renew = await h.call("PUT", "sys/leases/renew", { lease_id: `auth/userpass/login/alice/${alice.accessor}` }, h.root);
    expect(renew.status).toBe(400);
    expect(renew.body.errors[0]).toMatch(/auth\/token\/renew/);
    expect((await h.call("PUT", "sys/renew", { lease_id: "x/y" }, h.root)).body).toEqual({ errors: ["invalid lease"] });
    expect((await h.call("GET", "sys/leases/lookup", undefined, h.root)).status).toBe(405);
    expect((await h.call("PUT", "sys/leases/revoke-prefix/", {}, h.root)).status).toBe(400);
    expect((await h.call("PUT", "sys/leases/bogus", {}, h.root)).status).toBe(404);
  });
});
