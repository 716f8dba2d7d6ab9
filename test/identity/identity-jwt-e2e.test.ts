/**
 * Strongbox as its own OIDC issuer: an identity token from `identity/oidc/token/:role` logs in to
 * the `jwt` auth method of the same server, which finds the keys through OIDC discovery over HTTP
 * (as hvac's JWT tests use Vault's own provider as the issuer).
 */
import { api as nodeApi } from "../helpers/cluster.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";

describe("an identity token logs in to the jwt auth method through OIDC discovery", () => {
  let server: DevServer;
  const api = (method: string, path: string, body?: unknown, token = server.rootToken) =>
    nodeApi({ port: Number(new URL(server.addr).port) }, method, path, body, token);

  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("accepts the token for its audience, with the entity as the subject, and refuses it for another audience", async () => {
    const issuer = `${server.addr}/v1/identity/oidc`;
    expect((await api("POST", "identity/oidc/config", { issuer: server.addr })).status).toBe(204);
    await api("POST", "identity/oidc/key/workloads", { algorithm: "ES256", allowed_client_ids: ["*"] });
    await api("POST", "identity/oidc/role/deployer", { key: "workloads", ttl: "10m" });
    const clientId = (await api("GET", "identity/oidc/role/deployer")).body.data.client_id as string;

    await api("POST", "sys/auth/userpass", { type: "userpass" });
    await api("PUT", "sys/policies/acl/id-tokens", { policy: 'path "identity/oidc/token/deployer" { capabilities = ["read"] }' });
    await api("POST", "auth/userpass/users/ci", { password: "pw", token_policies: ["id-tokens"] });
    const login = (await api("POST", "auth/userpass/login/ci", { password: "pw" }, "")).body.auth;
    const identityToken = (await api("GET", "identity/oidc/token/deployer", undefined, login.client_token)).body.data.token as string;

    await api("POST", "sys/auth/jwt", { type: "jwt" });
    expect((await api("POST", "auth/jwt/config", { oidc_discovery_url: issuer, bound_issuer: issuer })).status).toBe(204);
    await api("PUT", "sys/policies/acl/deploy", { policy: 'path "secret/data/deploy/*" { capabilities = ["read"] }' });
    await api("POST", "auth/jwt/role/deployer", { role_type: "jwt", bound_audiences: [clientId], user_claim: "sub", token_policies: ["deploy"] });
    await api("POST", "auth/jwt/role/other", { role_type: "jwt", bound_audiences: ["someone-else"], user_claim: "sub", token_policies: ["deploy"] });

    const accepted = await api("POST", "auth/jwt/login", { role: "deployer", jwt: identityToken }, "");
    expect(accepted.status).toBe(200);
    expect(accepted.body.auth.policies).toContain("deploy");
    expect(accepted.body.auth.metadata).toMatchObject({ role: "deployer" });
    // The jwt method's alias is the token's subject: the userpass login's entity.
    const alias = (await api("GET", `identity/entity/id/${accepted.body.auth.entity_id}`)).body.data.aliases as { name: string }[];
    expect(alias.map((a) => a.name)).toContain(login.entity_id);

    await api("PUT", "secret/data/deploy/app", { data: { key: "v" } });
    expect((await api("GET", "secret/data/deploy/app", undefined, accepted.body.auth.client_token)).status).toBe(200);
    expect((await api("GET", "secret/data/other", undefined, accepted.body.auth.client_token)).status).toBe(403);

    const refused = await api("POST", "auth/jwt/login", { role: "other", jwt: identityToken }, "");
    expect(refused.status).toBe(400);
    expect(refused.body.auth).toBeUndefined();
  });
});
