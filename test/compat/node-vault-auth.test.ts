import nodeVault from "node-vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";

const PERMISSION_DENIED = "1 error occurred:\n\t* permission denied\n\n";

const APP_READ_POLICY = `# Read the app's configuration, nothing else.
path "secret/data/app/*" {
  capabilities = ["read"]
}

path "secret/metadata/app/*" {
  capabilities = ["list"]
}
`;

/**
 * Policies, userpass and AppRole driven with the unchanged npm Vault client against a real
 * `strongbox server -dev` process; the issued tokens are then used for allowed and forbidden calls.
 */
describe("node-vault: policies and auth methods against a real Strongbox process", () => {
  let server: DevServer;
  let admin: ReturnType<typeof nodeVault>;

  beforeAll(async () => {
    server = await startDevServer();
    admin = nodeVault({ endpoint: server.addr, token: server.rootToken });
    await admin.write("secret/data/app/config", { data: { db_url: "postgres://db" } });
    await admin.write("secret/data/other/config", { data: { key: "hidden" } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("writes, reads and lists policies", async () => {
    await admin.addPolicy({ name: "app-read", rules: APP_READ_POLICY });
    const read = await admin.getPolicy({ name: "app-read" });
    expect(read.rules).toBe(APP_READ_POLICY);
    expect(read.data).toEqual({ name: "app-read", rules: APP_READ_POLICY });
    expect((await admin.policies()).policies).toEqual(["app-read", "default", "root"]);
    await expect(admin.addPolicy({ name: "broken", rules: `path "x" { capabilities = ["fly"] }` })).rejects.toMatchObject({ response: { statusCode: 400 } });
  });

  it("enables userpass and AppRole and lists them", async () => {
    await admin.enableAuth({ mount_point: "userpass", type: "userpass", description: "people" });
    await admin.enableAuth({ mount_point: "approle", type: "approle" });
    const auths = await admin.auths();
    expect(auths["userpass/"]).toMatchObject({ type: "userpass", description: "people" });
    expect(auths.data["approle/"]).toMatchObject({ type: "approle" });
    expect(auths["token/"]).toMatchObject({ type: "token" });
  });

  it("logs in with userpass; the token reads what its policy allows and nothing more", async () => {
    await admin.write("auth/userpass/users/alice", { password: "correct horse", policies: "app-read", token_ttl: "30m" });
    const alice = nodeVault({ endpoint: server.addr });
    const login = await alice.userpassLogin({ username: "alice", password: "correct horse" });
    expect(login.auth).toMatchObject({ policies: ["app-read", "default"], metadata: { username: "alice" }, lease_duration: 1800, orphan: true });
    expect(alice.token).toBe(login.auth.client_token);

    expect((await alice.read("secret/data/app/config")).data.data).toEqual({ db_url: "postgres://db" });
    expect((await alice.list("secret/metadata/app/")).data.keys).toEqual(["config"]);
    await expect(alice.write("secret/data/app/config", { data: { db_url: "evil" } })).rejects.toMatchObject({
      response: { statusCode: 403, body: { errors: [PERMISSION_DENIED] } },
    });
    await expect(alice.read("secret/data/other/config")).rejects.toMatchObject({ response: { statusCode: 403, body: { errors: [PERMISSION_DENIED] } } });
    await expect(alice.addPolicy({ name: "mine", rules: APP_READ_POLICY })).rejects.toMatchObject({ response: { statusCode: 403 } });
    expect((await alice.tokenLookupSelf()).data).toMatchObject({ path: "auth/userpass/login/alice", display_name: "userpass-alice" });

    const wrong = nodeVault({ endpoint: server.addr });
    await expect(wrong.userpassLogin({ username: "alice", password: "wrong" })).rejects.toMatchObject({
      response: { statusCode: 400, body: { errors: ["invalid username or password"] } },
    });
  });

  it("logs in with AppRole; the token reads what its policy allows and nothing more", async () => {
    await admin.addApproleRole({ role_name: "ci", policies: "app-read", token_ttl: 600, secret_id_num_uses: 1 });
    const roleId = (await admin.getApproleRoleId({ role_name: "ci" })).data.role_id;
    const secret = (await admin.getApproleRoleSecret({ role_name: "ci", metadata: JSON.stringify({ pipeline: "build" }) })).data;
    expect(secret).toMatchObject({ secret_id: expect.any(String), secret_id_accessor: expect.any(String), secret_id_num_uses: 1 });

    const machine = nodeVault({ endpoint: server.addr });
    const login = await machine.approleLogin({ role_id: roleId, secret_id: secret.secret_id });
    expect(login.auth).toMatchObject({ policies: ["app-read", "default"], metadata: { role_name: "ci", pipeline: "build" }, lease_duration: 600 });
    expect((await machine.read("secret/data/app/config")).data.data).toEqual({ db_url: "postgres://db" });
    await expect(machine.delete("secret/data/app/config")).rejects.toMatchObject({ response: { statusCode: 403, body: { errors: [PERMISSION_DENIED] } } });

    // The secret ID allowed one login.
    await expect(nodeVault({ endpoint: server.addr }).approleLogin({ role_id: roleId, secret_id: secret.secret_id })).rejects.toMatchObject({
      response: { statusCode: 400, body: { errors: ["invalid role or secret ID"] } },
    });
  });

  it("revokes the method's tokens when it is disabled", async () => {
    const bob = nodeVault({ endpoint: server.addr });
    await admin.write("auth/userpass/users/bob", { password: "pw", policies: "app-read" });
    await bob.userpassLogin({ username: "bob", password: "pw" });
    await admin.disableAuth({ mount_point: "userpass" });
    await expect(bob.read("secret/data/app/config")).rejects.toMatchObject({ response: { statusCode: 403 } });
  });
});
