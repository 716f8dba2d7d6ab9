import nodeVault from "node-vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runHvac } from "../helpers/hvac.js";

/** Runs an hvac script as root and parses the one JSON line it prints. */
async function hvacJson(server: DevServer, script: string[]): Promise<any> {
  const run = await runHvac(script.join("\n"), { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken });
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

describe("hvac (Python): wrapping, cubbyhole, token roles and leases against a dev server", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("wraps a secret read, unwraps it once with the wrapping token, and fails the second unwrap with Vault's 400", async () => {
    const result = await hvacJson(server, [
      "client.secrets.kv.v2.create_or_update_secret(path='wrapped', secret={'db': 'pw'})",
      "wrapped = client.read('secret/data/wrapped', wrap_ttl='2m')",
      "info = wrapped['wrap_info']",
      "lookup = client.adapter.post('/v1/sys/wrapping/lookup', json={'token': info['token']})",
      "holder = hvac.Client(url=os.environ['VAULT_ADDR'], token=info['token'])",
      "first = holder.sys.unwrap()",
      "try:",
      "    holder.sys.unwrap()",
      "    second = 'unwrapped twice'",
      "except hvac.exceptions.InvalidRequest as error:",
      "    second = str(error)",
      "print(json.dumps({'data': wrapped['data'], 'ttl': info['ttl'], 'path': info['creation_path'], 'lookup': lookup['data'], 'unwrapped': first['data']['data'], 'second': second}))",
    ]);
    expect(result).toMatchObject({ data: null, ttl: 120, path: "secret/data/wrapped", unwrapped: { db: "pw" } });
    expect(result.lookup).toMatchObject({ creation_path: "secret/data/wrapped", creation_ttl: 120 });
    expect(result.second).toMatch(/wrapping token is not valid or does not exist/);
  });

  it("wraps arbitrary data with sys/wrapping/wrap, rewraps it, and unwraps with the token in the body", async () => {
    const result = await hvacJson(server, [
      "wrapped = client.write('sys/wrapping/wrap', wrap_ttl='90s', answer='42')['wrap_info']",
      "rewrapped = client.adapter.post('/v1/sys/wrapping/rewrap', json={'token': wrapped['token']})['wrap_info']",
      "try:",
      "    client.sys.unwrap(wrapped['token'])",
      "    old = 'old token still valid'",
      "except hvac.exceptions.InvalidRequest as error:",
      "    old = str(error)",
      "unwrapped = client.sys.unwrap(rewrapped['token'])",
      "print(json.dumps({'ttl': rewrapped['ttl'], 'old': old, 'data': unwrapped['data']}))",
    ]);
    expect(result).toMatchObject({ ttl: 90, data: { answer: "42" } });
    expect(result.old).toMatch(/wrapping token is not valid/);
  });

  it("keeps each token's cubbyhole private", async () => {
    const result = await hvacJson(server, [
      "other_token = client.auth.token.create(policies=['default'], ttl='1h')['auth']['client_token']",
      "other = hvac.Client(url=os.environ['VAULT_ADDR'], token=other_token)",
      "other.write('cubbyhole/note', text='mine')",
      "client.write('cubbyhole/note', text='root')",
      "print(json.dumps({'other': other.read('cubbyhole/note')['data'], 'root': client.read('cubbyhole/note')['data'], 'keys': other.list('cubbyhole')['data']['keys'], 'mounts': client.sys.list_mounted_secrets_engines()['data']['cubbyhole/']['type']}))",
    ]);
    expect(result).toEqual({ other: { text: "mine" }, root: { text: "root" }, keys: ["note"], mounts: "cubbyhole" });
  });

  it("creates a token role, creates tokens from it with its policies checked, and revokes them by lease prefix", async () => {
    const result = await hvacJson(server, [
      "client.sys.create_or_update_policy(name='app', policy='path \"secret/data/app\" { capabilities = [\"read\"] }')",
      "client.auth.token.create_or_update_role('ci', allowed_policies=['app'], orphan=True, path_suffix='build')",
      "created = client.auth.token.create(role_name='ci')['auth']",
      "try:",
      "    client.auth.token.create(role_name='ci', policies=['admin'])",
      "    refused = 'created'",
      "except hvac.exceptions.InvalidRequest as error:",
      "    refused = str(error)",
      "looked = client.auth.token.lookup(created['client_token'])['data']",
      "leases = client.sys.list_leases('auth/token/create/ci/build')['data']['keys']",
      "client.sys.revoke_prefix('auth/token/create/ci')",
      "try:",
      "    client.auth.token.lookup(created['client_token'])",
      "    after = 'still valid'",
      "except hvac.exceptions.Forbidden:",
      "    after = 'revoked'",
      "print(json.dumps({'policies': created['policies'], 'orphan': created['orphan'], 'path': looked['path'], 'refused': refused, 'roles': client.auth.token.list_roles()['data']['keys'], 'role': client.auth.token.read_role('ci')['data']['allowed_policies'], 'leases': leases, 'accessor': created['accessor'], 'after': after}))",
    ]);
    expect(result).toMatchObject({
      policies: ["app", "default"],
      orphan: true,
      path: "auth/token/create/ci/build",
      roles: ["ci"],
      role: ["app"],
      after: "revoked",
    });
    expect(result.leases).toEqual([result.accessor]);
    expect(result.refused).toMatch(/must be subset of the role's allowed policies/);
  });

  it("node-vault: wraps a read with the header, unwraps it, and manages token roles", async () => {
    const vault = nodeVault({ endpoint: server.addr, token: server.rootToken });
    await vault.write("secret/data/node-wrapped", { data: { k: "v" } });
    const wrapped = await vault.read("secret/data/node-wrapped", { headers: { "X-Vault-Wrap-TTL": "60" } });
    expect(wrapped.wrap_info).toMatchObject({ ttl: 60, creation_path: "secret/data/node-wrapped" });
    expect((await vault.unwrap({ token: wrapped.wrap_info.token })).data.data).toEqual({ k: "v" });
    await expect(vault.unwrap({ token: wrapped.wrap_info.token })).rejects.toMatchObject({ response: { statusCode: 400 } });

    // node-vault's schema sends allowed_policies as comma-separated text.
    await vault.addTokenRole({ role_name: "node-role", allowed_policies: "reader" });
    expect((await vault.tokenRoles()).data.keys).toContain("node-role");
    expect((await vault.getTokenRole({ role_name: "node-role" })).data.allowed_policies).toEqual(["reader"]);
    const created = await vault.tokenCreateRole({ role_name: "node-role" });
    expect(created.auth.policies).toEqual(["default", "reader"]);
    // tokenCreateRole is a "token source": node-vault now sends the new token; go back to root.
    expect(vault.token).toBe(created.auth.client_token);
    vault.token = server.rootToken;
    await vault.removeTokenRole({ role_name: "node-role" });
    await expect(vault.getTokenRole({ role_name: "node-role" })).rejects.toMatchObject({ response: { statusCode: 404 } });
  });
});
