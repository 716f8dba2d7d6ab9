/**
 * The OIDC browser flow (`role_type = "oidc"`) against a provider this file runs on loopback:
 * discovery, an authorization URL with state, nonce and PKCE, a token endpoint that checks the
 * client secret and the code verifier, and ID tokens signed with a fresh key.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Json, unsealedServer } from "../helpers/in-process-server.js";
import { type KeyServer, type SigningKey, sign, signingKey, startKeyServer } from "../helpers/jwt-issuer.js";

type Server = Awaited<ReturnType<typeof unsealedServer>>;

const CLIENT_ID = "strongbox-client";
const CLIENT_SECRET = "client-secret-value";
const REDIRECT = "http://localhost:8250/oidc/callback";
const now = () => Math.floor(Date.now() / 1000);

/** What the provider knows of a code it issued: the challenge and nonce from the authorization request. */
interface Grant {
  challenge: string;
  nonce: string;
  claims: Json;
}

describe("the OIDC browser flow", () => {
  let h: Server;
  let provider: KeyServer;
  let key: SigningKey;
  const grants = new Map<string, Grant>();
  const exchanges: Json[] = [];

  beforeAll(async () => {
    key = await signingKey("RS256");
    provider = await startKeyServer([key], {
      extraRoutes: (request, body) => {
        if (request.method !== "POST" || request.url !== "/token") return null;
        const form = new URLSearchParams(body);
        exchanges.push(Object.fromEntries(form));
        const expected = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`;
        if (request.headers.authorization !== expected) return { status: 401, body: { error: "invalid_client" } };
        const grant = grants.get(form.get("code") ?? "");
        grants.delete(form.get("code") ?? "");
        if (!grant || form.get("grant_type") !== "authorization_code" || form.get("redirect_uri") !== REDIRECT)
          return { status: 400, body: { error: "invalid_grant" } };
        const challenge = createHash("sha256")
          .update(form.get("code_verifier") ?? "")
          .digest("base64url");
        if (challenge !== grant.challenge) return { status: 400, body: { error: "invalid_grant", error_description: "PKCE verification failed" } };
        return { status: 200, body: { access_token: "at", token_type: "Bearer", id_token: grant.claims.__token } };
      },
    });
    h = await unsealedServer();
    await h.call("POST", "sys/auth/oidc", { type: "oidc" }, h.root);
    const config = { oidc_discovery_url: provider.url, oidc_client_id: CLIENT_ID, oidc_client_secret: CLIENT_SECRET, default_role: "web" };
    expect((await h.call("POST", "auth/oidc/config", config, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/oidc/config", undefined, h.root)).body.data.oidc_client_secret).toBeUndefined();
    const role = {
      user_claim: "email",
      allowed_redirect_uris: [REDIRECT],
      groups_claim: "groups",
      oidc_scopes: "profile,email",
      token_policies: "web",
      bound_claims: { hd: "example.com" },
    };
    expect((await h.call("POST", "auth/oidc/role/web", role, h.root)).status).toBe(204);
  });
  afterAll(() => provider.close());
  beforeEach(() => {
    exchanges.length = 0;
  });

  /** auth_url, then what the provider does when the user signs in: a code bound to the request's challenge and nonce. */
  async function authorize(idClaims: Json = {}, nonceOverride?: string): Promise<{ state: string; code: string; url: URL }> {
    const response = await h.call("POST", "auth/oidc/oidc/auth_url", { redirect_uri: REDIRECT });
    expect(response.status).toBe(200);
    const url = new URL(response.body.data.auth_url);
    const params = url.searchParams;
    const code = `code-${Math.random().toString(36).slice(2)}`;
    const claims = {
      iss: provider.url,
      aud: CLIENT_ID,
      sub: "u-42",
      email: "ada@example.com",
      hd: "example.com",
      groups: ["eng"],
      iat: now(),
      exp: now() + 300,
    };
    const token = await sign(key, { ...claims, nonce: nonceOverride ?? params.get("nonce"), ...idClaims });
    grants.set(code, { challenge: params.get("code_challenge")!, nonce: params.get("nonce")!, claims: { __token: token } });
    return { state: params.get("state")!, code, url };
  }

  it("answers an authorization URL with Vault's parameters, then logs in at the callback with the code", async () => {
    const { state, code, url } = await authorize();
    expect(`${url.origin}${url.pathname}`).toBe(`${provider.url}/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "openid profile email",
      code_challenge_method: "S256",
    });
    expect(url.searchParams.get("state")).toMatch(/^st_/);
    const response = await h.call("GET", `auth/oidc/oidc/callback?state=${state}&code=${code}`);
    expect(response.status).toBe(200);
    expect(response.body.auth.policies).toEqual(["default", "web"]);
    expect(response.body.auth.metadata).toEqual({ role: "web" });
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({ grant_type: "authorization_code", code, redirect_uri: REDIRECT });
    // A state is good for one callback.
    expect(await h.call("GET", `auth/oidc/oidc/callback?state=${state}&code=${code}`)).toEqual({
      status: 400,
      body: { errors: ["Vault login failed. Expired or missing OAuth state."] },
    });
  });

  it("refuses an ID token with another nonce, audience or issuer, and claims the role does not bind", async () => {
    const cases: [Json, string | undefined, string][] = [
      [{}, "n_forged", `Vault login failed. Error exchanging oidc code: "invalid id_token nonce".`],
      [
        { aud: "another-client" },
        undefined,
        `Vault login failed. Error exchanging oidc code: "invalid audience (aud) claim: audience claim does not match any expected audience".`,
      ],
      [{ iss: "https://evil.example" }, undefined, `Vault login failed. Error exchanging oidc code: "invalid issuer (iss) claim".`],
      [{ hd: "evil.example" }, undefined, `error validating claims: claim "hd" does not match any associated bound claim values`],
    ];
    for (const [claims, nonce, error] of cases) {
      const { state, code } = await authorize(claims, nonce);
      expect(await h.call("GET", `auth/oidc/oidc/callback?state=${state}&code=${code}`)).toEqual({ status: 400, body: { errors: [error] } });
    }
  });

  it("gives no authorization URL for a redirect the role does not allow, and refuses unknown states and missing codes", async () => {
    expect(await h.call("POST", "auth/oidc/oidc/auth_url", { redirect_uri: "https://evil.example/cb" })).toEqual({
      status: 200,
      body: expect.objectContaining({ data: { auth_url: "" } }),
    });
    // A loopback redirect may use another port, as in Vault.
    expect((await h.call("POST", "auth/oidc/oidc/auth_url", { redirect_uri: "http://localhost:9999/oidc/callback" })).body.data.auth_url).toMatch(/^http/);
    expect(await h.call("POST", "auth/oidc/oidc/auth_url", {})).toEqual({ status: 400, body: { errors: ["missing redirect_uri"] } });
    expect(await h.call("GET", "auth/oidc/oidc/callback?state=st_unknown&code=x")).toEqual({
      status: 400,
      body: { errors: ["Vault login failed. Expired or missing OAuth state."] },
    });
    const { state } = await authorize();
    expect(await h.call("GET", `auth/oidc/oidc/callback?state=${state}`)).toEqual({
      status: 400,
      body: { errors: ["Vault login failed. No code or id_token received."] },
    });
  });

  it("a code exchanged with a wrong verifier or an expired request gives no token", async () => {
    const { state, code } = await authorize();
    grants.get(code)!.challenge = "not-the-challenge";
    const refused = await h.call("GET", `auth/oidc/oidc/callback?state=${state}&code=${code}`);
    expect(refused).toEqual({ status: 400, body: { errors: [`Vault login failed. Error exchanging oidc code: "oauth2: cannot fetch token: 400".`] } });
    const late = await authorize();
    h.advance(601);
    expect(await h.call("GET", `auth/oidc/oidc/callback?state=${late.state}&code=${late.code}`)).toEqual({
      status: 400,
      body: { errors: ["Vault login failed. Expired or missing OAuth state."] },
    });
  });
});
