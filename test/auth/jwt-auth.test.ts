/**
 * The JWT/OIDC auth method over HTTP on an in-process node: real keys, real signatures (jose), and
 * a JWKS/discovery server this file starts on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";
import { type KeyServer, publicPem, type SigningKey, sign, signingKey, startKeyServer } from "../helpers/jwt-issuer.js";

type Server = Awaited<ReturnType<typeof unsealedServer>>;

/** Seconds the tests moved the servers' clocks on: token times follow the server's clock. */
let clockOffset = 0;
const now = () => Math.floor(Date.now() / 1000) + clockOffset;
/** For servers whose clocks the tests leave alone. */
const wallClock = () => Math.floor(Date.now() / 1000);

/** Claims as GitHub Actions' OIDC tokens carry them. */
function githubClaims(overrides: Json = {}): Json {
  return {
    iss: "https://token.actions.githubusercontent.com",
    aud: "https://github.com/octo-org",
    sub: "repo:octo-org/octo-repo:ref:refs/heads/main",
    repository: "octo-org/octo-repo",
    repository_owner: "octo-org",
    ref: "refs/heads/main",
    workflow: "deploy",
    actor: "octocat",
    run_id: 1234567890,
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    ...overrides,
  };
}

async function login(h: Server, body: Json, mount = "jwt") {
  return h.call("POST", `auth/${mount}/login`, body);
}

describe("jwt auth: a JWKS endpoint, GitHub Actions-shaped tokens", () => {
  let h: Server;
  let issuer: KeyServer;
  let key: SigningKey;

  beforeAll(async () => {
    key = await signingKey("RS256");
    issuer = await startKeyServer([key]);
    h = await unsealedServer();
    expect((await h.call("POST", "sys/auth/jwt", { type: "jwt" }, h.root)).status).toBe(204);
    const config = await h.call(
      "POST",
      "auth/jwt/config",
      { jwks_url: `${issuer.url}/.well-known/jwks.json`, bound_issuer: "https://token.actions.githubusercontent.com" },
      h.root,
    );
    expect(config.status).toBe(204);
    const role = await h.call(
      "POST",
      "auth/jwt/role/deploy",
      {
        role_type: "jwt",
        user_claim: "actor",
        bound_audiences: ["https://github.com/octo-org"],
        bound_claims: { repository: "octo-org/*", ref: ["refs/heads/main", "refs/heads/release"] },
        bound_claims_type: "glob",
        claim_mappings: { repository: "repository", workflow: "workflow" },
        token_policies: ["deployer"],
        token_ttl: "10m",
        token_max_ttl: "1h",
      },
      h.root,
    );
    expect(role.status).toBe(204);
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    await h.call("PUT", "secret/app", { password: "s3cret" }, h.root);
    await h.call("PUT", "secret/other", { password: "no" }, h.root);
    await h.writePolicy("deployer", `path "secret/app" { capabilities = ["read"] }`);
  });
  afterAll(() => issuer.close());

  it("logs in with a signed token: Vault's auth block, metadata from claim_mappings, then a KV read its policy allows and one it denies", async () => {
    const response = await login(h, { role: "deploy", jwt: await sign(key, githubClaims()) });
    expect(response.status).toBe(200);
    const auth = response.body.auth;
    expect(auth.policies).toEqual(["default", "deployer"]);
    expect(auth.token_policies).toEqual(["default", "deployer"]);
    expect(auth.metadata).toEqual({ role: "deploy", repository: "octo-org/octo-repo", workflow: "deploy" });
    expect(auth.lease_duration).toBe(600);
    expect(auth.renewable).toBe(true);
    const lookup = await h.call("GET", "auth/token/lookup-self", undefined, auth.client_token);
    expect(lookup.body.data.display_name).toBe("jwt-octocat");
    expect(lookup.body.data.path).toBe("auth/jwt/login");
    expect((await h.call("GET", "secret/app", undefined, auth.client_token)).body.data).toEqual({ password: "s3cret" });
    expect(await h.call("GET", "secret/other", undefined, auth.client_token)).toEqual({ status: 403, body: PERMISSION_DENIED });
  });

  it("renews within token_max_ttl", async () => {
    const token = (await login(h, { role: "deploy", jwt: await sign(key, githubClaims()) })).body.auth.client_token;
    h.advance(300);
    clockOffset += 300;
    const renewed = await h.call("POST", "auth/token/renew-self", { increment: "2h" }, token);
    expect(renewed.status).toBe(200);
    expect(renewed.body.auth.lease_duration).toBeLessThanOrEqual(3600 - 300);
  });

  it("refuses to renew once the login's role is gone or grants other policies, as Vault does", async () => {
    const role = (token_policies: string[]) => ({
      role_type: "jwt",
      user_claim: "actor",
      bound_audiences: ["https://github.com/octo-org"],
      token_policies,
      token_ttl: "10m",
    });
    await h.call("POST", "auth/jwt/role/renewal", role(["deployer"]), h.root);
    const token = (await login(h, { role: "renewal", jwt: await sign(key, githubClaims()) })).body.auth.client_token;
    expect((await h.call("POST", "auth/token/renew-self", {}, token)).status).toBe(200);
    await h.call("POST", "auth/jwt/role/renewal", role(["deployer", "more"]), h.root);
    expect(await h.call("POST", "auth/token/renew-self", {}, token)).toMatchObject({ status: 400, body: { errors: ["policies have changed, not renewing"] } });
    await h.call("DELETE", "auth/jwt/role/renewal", undefined, h.root);
    expect(await h.call("POST", "auth/token/renew-self", {}, token)).toMatchObject({
      status: 400,
      body: { errors: ['role "renewal" no longer exists; not renewing'] },
    });
  });

  const refusals: [string, () => Promise<string>, string][] = [
    [
      "an expired token",
      () => sign(key, githubClaims({ iat: now() - 900, nbf: now() - 900, exp: now() - 600 })),
      "error validating token: invalid expiration time (exp) claim: token is expired",
    ],
    [
      "a token not valid yet",
      () => sign(key, githubClaims({ nbf: now() + 600, iat: now() })),
      "error validating token: invalid not before (nbf) claim: token not yet valid",
    ],
    [
      "a wrong audience",
      () => sign(key, githubClaims({ aud: "https://github.com/evil-org" })),
      "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience",
    ],
    ["a wrong issuer", () => sign(key, githubClaims({ iss: "https://evil.example" })), "error validating token: invalid issuer (iss) claim"],
    [
      "a bound claim that does not match",
      () => sign(key, githubClaims({ repository: "evil-org/octo-repo" })),
      `error validating claims: claim "repository" does not match any associated bound claim values`,
    ],
    ["a missing bound claim", () => sign(key, githubClaims({ ref: undefined })), `error validating claims: claim "ref" is missing`],
    [
      "a key the JWKS does not publish",
      async () => sign(await signingKey("RS256", key.kid), githubClaims()),
      "error validating token: error verifying token signature: failed to verify id token signature",
    ],
    [
      "alg none",
      async () => unsigned({ alg: "none", kid: key.kid }, githubClaims()),
      "error validating token: error verifying token signature: failed to verify id token signature",
    ],
    [
      "HS256 keyed with the public key",
      () => hmacWithPublicKey(key, githubClaims()),
      "error validating token: error verifying token signature: failed to verify id token signature",
    ],
    ["no user claim", () => sign(key, githubClaims({ actor: undefined })), `claim "actor" not found in token`],
  ];
  for (const [what, token, error] of refusals) {
    it(`refuses ${what} with Vault's text and no token`, async () => {
      const response = await login(h, { role: "deploy", jwt: await token() });
      expect(response).toEqual({ status: 400, body: { errors: [error] } });
    });
  }

  it("answers a missing role, an unknown role, a missing token and a garbled token as Vault does", async () => {
    expect(await login(h, { jwt: "x" })).toEqual({ status: 400, body: { errors: ["missing role"] } });
    expect(await login(h, { role: "nope", jwt: "x" })).toEqual({ status: 400, body: { errors: [`role "nope" could not be found`] } });
    expect(await login(h, { role: "deploy" })).toEqual({ status: 400, body: { errors: ["missing token"] } });
    expect(await login(h, { role: "deploy", jwt: "not.a-token" })).toEqual({
      status: 400,
      body: { errors: ["error validating token: error parsing token: compact JWS format must have three parts"] },
    });
    expect((await login(h, { role: "deploy", jwt: 42 })).status).toBe(400);
  });

  it("fetches the JWKS again for an unknown kid (a rotation), and at most once per interval for made-up kids", async () => {
    const rotated = await signingKey("ES256");
    issuer.keys = [key, rotated];
    const before = issuer.jwksFetches;
    expect((await login(h, { role: "deploy", jwt: await sign(rotated, githubClaims()) })).status).toBe(200);
    expect(issuer.jwksFetches).toBe(before + 1);
    for (let i = 0; i < 5; i++) {
      const forged = await sign(await signingKey("RS256", `made-up-${i}`), githubClaims());
      expect((await login(h, { role: "deploy", jwt: forged })).status).toBe(400);
    }
    expect(issuer.jwksFetches).toBe(before + 1);
    // Once the interval has passed, the next unknown kid is looked up again.
    h.advance(11);
    clockOffset += 11;
    const next = await signingKey("ES384");
    issuer.keys = [key, next];
    expect((await login(h, { role: "deploy", jwt: await sign(next, githubClaims()) })).status).toBe(200);
    expect(issuer.jwksFetches).toBe(before + 2);
  });
});

describe("jwt auth: static keys, every algorithm", () => {
  for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]) {
    it(`verifies ${alg} against jwt_validation_pubkeys and refuses it when jwt_supported_algs leaves it out`, async () => {
      const key = await signingKey(alg);
      const other = await signingKey(alg === "RS256" ? "ES256" : "RS256");
      const h = await unsealedServer();
      await h.call("POST", "sys/auth/oidc", { type: "oidc" }, h.root);
      const pubkeys = [await publicPem(other), await publicPem(key)];
      expect((await h.call("POST", "auth/oidc/config", { jwt_validation_pubkeys: pubkeys }, h.root)).status).toBe(204);
      await h.call("POST", "auth/oidc/role/r", { role_type: "jwt", user_claim: "sub", bound_subject: "alice" }, h.root);
      const token = await sign(key, { sub: "alice", iat: wallClock(), exp: wallClock() + 60 }, { kid: undefined });
      const response = await login(h, { role: "r", jwt: token }, "oidc");
      expect(response.body.auth?.metadata, JSON.stringify(response.body)).toEqual({ role: "r" });
      expect(await login(h, { role: "r", jwt: await sign(key, { sub: "bob", iat: wallClock(), exp: wallClock() + 60 }) }, "oidc")).toEqual({
        status: 400,
        body: { errors: ["error validating token: invalid subject (sub) claim"] },
      });
      const only = alg === "RS512" ? "RS256" : "RS512";
      await h.call("POST", "auth/oidc/config", { jwt_validation_pubkeys: pubkeys, jwt_supported_algs: [only] }, h.root);
      expect(await login(h, { role: "r", jwt: token }, "oidc")).toEqual({
        status: 400,
        body: { errors: ["error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm"] },
      });
    });
  }
});

function base64url(value: string | Uint8Array): string {
  return Buffer.from(value).toString("base64url");
}

function unsigned(header: Json, claims: Json): string {
  return `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}.`;
}

/** The classic confusion attack: HS256 with the RSA public key's PEM as the HMAC secret. */
async function hmacWithPublicKey(key: SigningKey, claims: Json): Promise<string> {
  const input = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT", kid: key.kid }))}.${base64url(JSON.stringify(claims))}`;
  const secret = await crypto.subtle.importKey("raw", new TextEncoder().encode(await publicPem(key)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", secret, new TextEncoder().encode(input)));
  return `${input}.${base64url(mac)}`;
}
