/**
 * The JWT method's configuration and roles (validation, read shapes), OIDC discovery with
 * EKS-shaped tokens, a JWKS behind an operator's CA, and what a login hands the identity layer.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customCaTransport } from "../../adapters/node/server/custom-ca-transport.js";
import { jwt } from "../../src/builtin/jwt/jwt.js";
import type { AuthRequest } from "../../src/sdk/auth.js";
import { setCustomCaTransport } from "../../src/sdk/outbound-http.js";
import { type Json, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";
import { type KeyServer, publicPem, type SigningKey, sign, signingKey, startKeyServer } from "../helpers/jwt-issuer.js";
import { memoryStorage, testMount } from "../helpers/memory-storage.js";
import { makeCertificates } from "../helpers/test-certificates.js";

type Server = Awaited<ReturnType<typeof unsealedServer>>;
const now = () => Math.floor(Date.now() / 1000);

describe("jwt config and roles", () => {
  let h: Server;
  let key: SigningKey;
  beforeAll(async () => {
    key = await signingKey("ES256");
    h = await unsealedServer();
    await h.call("POST", "sys/auth/jwt", { type: "jwt" }, h.root);
  });
  const errors = async (path: string, body: Json) => (await h.call("POST", `auth/jwt/${path}`, body, h.root)).body?.errors;

  it("refuses a configuration Vault refuses, with its texts", async () => {
    const pem = await publicPem(key);
    expect(await errors("config", {})).toEqual(["exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set"]);
    expect(await errors("config", { jwt_validation_pubkeys: [pem], jwks_url: "http://127.0.0.1:1/jwks" })).toEqual([
      "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set",
    ]);
    expect(await errors("config", { jwt_validation_pubkeys: ["not a key"] })).toEqual([
      "error parsing public key: data does not contain any valid RSA or ECDSA public keys",
    ]);
    expect(await errors("config", { jwks_url: "http://127.0.0.1:1/jwks" })).toEqual(["error checking jwks URL http://127.0.0.1:1/jwks"]);
    expect(await errors("config", { oidc_discovery_url: "http://127.0.0.1:1" })).toEqual(["error checking oidc discovery URL"]);
    expect(await errors("config", { jwt_validation_pubkeys: [pem], jwt_supported_algs: ["HS256"] })).toEqual([
      `invalid jwt_supported_algs: unsupported signing algorithm "HS256"`,
    ]);
    expect(await errors("config", { jwt_validation_pubkeys: [pem], oidc_client_id: "x" })).toEqual([
      "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC",
    ]);
    expect(await errors("config", { jwt_validation_pubkeys: [pem], provider_config: { provider: "azure" } })).toEqual([
      `"provider_config" is not supported by Strongbox`,
    ]);
    expect(await h.call("GET", "auth/jwt/config", undefined, h.root)).toEqual({ status: 404, body: { errors: [] } });
  });

  it("reads the configuration back in Vault's shape, the client secret left out", async () => {
    const pem = await publicPem(key);
    expect((await h.call("POST", "auth/jwt/config", { jwt_validation_pubkeys: pem, bound_issuer: "https://issuer", default_role: "dev" }, h.root)).status).toBe(
      204,
    );
    expect((await h.call("GET", "auth/jwt/config", undefined, h.root)).body.data).toEqual({
      oidc_discovery_url: "",
      oidc_discovery_ca_pem: "",
      oidc_client_id: "",
      oidc_response_mode: "",
      oidc_response_types: [],
      jwks_url: "",
      jwks_ca_pem: "",
      jwks_pairs: [],
      jwt_validation_pubkeys: [pem.trim()],
      jwt_supported_algs: [],
      bound_issuer: "https://issuer",
      default_role: "dev",
      namespace_in_state: true,
      provider_config: {},
      unsupported_critical_cert_extensions: [],
    });
  });

  it("refuses a role Vault refuses, with its texts", async () => {
    expect(await errors("role/r", { role_type: "jwt", bound_subject: "x" })).toEqual(["a user claim must be defined on the role"]);
    expect(await errors("role/r", { role_type: "jwt", user_claim: "sub" })).toEqual(["must have at least one bound constraint when creating/updating a role"]);
    expect(await errors("role/r", { user_claim: "sub" })).toEqual(["'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified."]);
    expect(await errors("role/r", { role_type: "saml", user_claim: "sub" })).toEqual(["invalid 'role_type': saml"]);
    expect(await errors("role/r", { role_type: "jwt", user_claim: "sub", bound_subject: "x", bound_claims_type: "regex" })).toEqual([
      "invalid 'bound_claims_type': regex",
    ]);
    expect(await errors("role/r", { role_type: "jwt", user_claim: "sub", bound_claims_type: "glob", bound_claims: { n: 1 } })).toEqual([
      "claim is not a string: 1",
    ]);
    expect(await errors("role/r", { role_type: "jwt", user_claim: "sub", bound_subject: "x", claim_mappings: { a: "role" } })).toEqual([
      `metadata key "role" is reserved and may not be a mapping destination`,
    ]);
    expect(await errors("role/r", { role_type: "jwt", user_claim: "sub", bound_subject: "x", claim_mappings: { a: "k", b: "k" } })).toEqual([
      `multiple keys are mapped to metadata key "k"`,
    ]);
    expect(await errors("role/r", { role_type: "jwt", user_claim: "sub", bound_subject: "x", token_ttl: "2h", token_max_ttl: "1h" })).toEqual([
      `"token_ttl" should not be greater than "token_max_ttl"`,
    ]);
  });

  it("reads a role back with Vault's fields and defaults, and lists roles", async () => {
    expect((await h.call("POST", "auth/jwt/role/Dev", { role_type: "jwt", user_claim: "sub", bound_audiences: "a,b" }, h.root)).status).toBe(204);
    expect((await h.call("GET", "auth/jwt/role/dev", undefined, h.root)).body.data).toEqual({
      role_type: "jwt",
      expiration_leeway: 150,
      not_before_leeway: 150,
      clock_skew_leeway: 60,
      bound_audiences: ["a", "b"],
      bound_subject: "",
      bound_claims_type: "string",
      bound_claims: {},
      claim_mappings: {},
      user_claim: "sub",
      user_claim_json_pointer: false,
      groups_claim: "",
      oidc_scopes: [],
      allowed_redirect_uris: [],
      verbose_oidc_logging: false,
      max_age: 0,
      token_policies: [],
      token_ttl: 0,
      token_max_ttl: 0,
      token_explicit_max_ttl: 0,
      token_period: 0,
      token_num_uses: 0,
      token_bound_cidrs: [],
      token_no_default_policy: false,
      token_type: "default",
    });
    expect((await h.call("LIST", "auth/jwt/role/", undefined, h.root)).body.data.keys).toEqual(["dev"]);
    expect(await h.call("POST", "auth/jwt/oidc/auth_url", { role: "dev", redirect_uri: "http://localhost:8250/oidc/callback" })).toEqual({
      status: 400,
      body: { errors: ["OIDC login is not configured for this mount"] },
    });
  });

  it("logs in with default_role, and refuses an oidc role, an address outside token_bound_cidrs and an unbound audience", async () => {
    await h.call("POST", "auth/jwt/config", { jwt_validation_pubkeys: await publicPem(key), default_role: "dev" }, h.root);
    const claims = { sub: "svc", aud: "a", iat: now(), exp: now() + 60 };
    expect((await h.call("POST", "auth/jwt/login", { jwt: await sign(key, claims) })).status).toBe(200);
    await h.call("POST", "auth/jwt/role/browser", { user_claim: "sub", allowed_redirect_uris: "http://localhost/cb" }, h.root);
    expect(await h.call("POST", "auth/jwt/login", { role: "browser", jwt: "x" })).toEqual({
      status: 400,
      body: { errors: ["role with oidc role_type is not allowed"] },
    });
    await h.call("POST", "auth/jwt/role/fenced", { role_type: "jwt", user_claim: "sub", token_bound_cidrs: "10.0.0.0/8" }, h.root);
    expect(await h.call("POST", "auth/jwt/login", { role: "fenced", jwt: await sign(key, { sub: "svc", iat: now(), exp: now() + 60 }) })).toEqual({
      status: 403,
      body: PERMISSION_DENIED,
    });
    const fromInside = await h.call(
      "POST",
      "auth/jwt/login",
      { role: "fenced", jwt: await sign(key, { sub: "svc", iat: now(), exp: now() + 60 }) },
      undefined,
      "10.1.2.3",
    );
    expect(fromInside.status).toBe(200);
    expect(await h.call("POST", "auth/jwt/login", { role: "fenced", jwt: await sign(key, claims) }, undefined, "10.1.2.3")).toEqual({
      status: 400,
      body: { errors: ["audience claim found in JWT but no audiences bound to the role"] },
    });
  });
});

describe("jwt tokens renew as Vault's do", () => {
  it("a periodic role's token renews to its period, past any max TTL; token_num_uses limits its uses", async () => {
    const key = await signingKey("ES256");
    const h = await unsealedServer();
    await h.call("POST", "sys/auth/jwt", { type: "jwt" }, h.root);
    await h.call("POST", "auth/jwt/config", { jwt_validation_pubkeys: await publicPem(key) }, h.root);
    await h.call("POST", "auth/jwt/role/p", { role_type: "jwt", user_claim: "sub", bound_subject: "svc", token_period: "10m", token_max_ttl: "15m" }, h.root);
    const login = await h.call("POST", "auth/jwt/login", { role: "p", jwt: await sign(key, { sub: "svc", iat: now(), exp: now() + 60 }) });
    expect(login.body.auth.lease_duration).toBe(600);
    const token = login.body.auth.client_token;
    for (let round = 0; round < 3; round++) {
      h.advance(500);
      const renewed = await h.call("POST", "auth/token/renew-self", {}, token);
      expect(renewed.body.auth.lease_duration).toBe(600);
    }
    await h.call("POST", "auth/jwt/role/once", { role_type: "jwt", user_claim: "sub", bound_subject: "svc", token_num_uses: 1 }, h.root);
    const clock = now() + 1500;
    const once = await h.call("POST", "auth/jwt/login", { role: "once", jwt: await sign(key, { sub: "svc", iat: clock, exp: clock + 60 }) });
    const single = once.body.auth.client_token;
    expect((await h.call("GET", "auth/token/lookup-self", undefined, single)).status).toBe(200);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, single)).status).toBe(403);
  });
});

describe("jwt: OIDC discovery with EKS-shaped tokens, and a JWKS behind an operator's CA", () => {
  let issuer: KeyServer;
  let key: SigningKey;
  beforeAll(async () => {
    key = await signingKey("RS256");
    issuer = await startKeyServer([key]);
  });
  afterAll(() => issuer.close());

  it("verifies a projected service account token against the discovered JWKS", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/auth/eks", { type: "jwt" }, h.root);
    expect((await h.call("POST", "auth/eks/config", { oidc_discovery_url: issuer.url, bound_issuer: issuer.url }, h.root)).status).toBe(204);
    await h.call(
      "POST",
      "auth/eks/role/pods",
      {
        role_type: "jwt",
        user_claim: "sub",
        bound_audiences: "sts.amazonaws.com",
        bound_claims: { "/kubernetes.io/namespace": "payments" },
        claim_mappings: { "/kubernetes.io/serviceaccount/name": "service_account" },
        token_policies: "pods",
      },
      h.root,
    );
    const claims = {
      aud: ["sts.amazonaws.com"],
      iss: issuer.url,
      sub: "system:serviceaccount:payments:api",
      iat: now(),
      exp: now() + 86400,
      "kubernetes.io": { namespace: "payments", serviceaccount: { name: "api", uid: "u-1" }, pod: { name: "api-1", uid: "p-1" } },
    };
    const response = await h.call("POST", "auth/eks/login", { role: "pods", jwt: await sign(key, claims) });
    expect(response.status).toBe(200);
    expect(response.body.auth.metadata).toEqual({ role: "pods", service_account: "api" });
    const elsewhere = { ...claims, "kubernetes.io": { ...claims["kubernetes.io"], namespace: "billing" } };
    expect(await h.call("POST", "auth/eks/login", { role: "pods", jwt: await sign(key, elsewhere) })).toEqual({
      status: 400,
      body: { errors: [`error validating claims: claim "/kubernetes.io/namespace" does not match any associated bound claim values`] },
    });
    const discoveryElsewhere = await h.call("POST", "auth/eks/config", { oidc_discovery_url: `${issuer.url}/other` }, h.root);
    expect(discoveryElsewhere).toEqual({ status: 400, body: { errors: ["error checking oidc discovery URL"] } });
  });

  it("fetches a JWKS over HTTPS only with jwks_ca_pem, through the runtime's CA transport", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jwks-ca-"));
    const certificates = await makeCertificates(dir);
    const tls = { cert: await readFile(certificates.serverCertFile, "utf8"), key: await readFile(certificates.serverKeyFile, "utf8") };
    const secure = await startKeyServer([key], { tls });
    try {
      const h = await unsealedServer();
      await h.call("POST", "sys/auth/jwt", { type: "jwt" }, h.root);
      const config = { jwks_url: `${secure.url}/.well-known/jwks.json`, jwks_ca_pem: await readFile(certificates.caFile, "utf8") };
      // Web fetch cannot take the CA: refused, not fetched with the CA ignored.
      expect((await h.call("POST", "auth/jwt/config", config, h.root)).body.errors).toEqual([`error checking jwks URL ${config.jwks_url}`]);
      setCustomCaTransport(customCaTransport);
      expect((await h.call("POST", "auth/jwt/config", { jwks_url: config.jwks_url }, h.root)).body.errors).toEqual([
        `error checking jwks URL ${config.jwks_url}`,
      ]);
      expect((await h.call("POST", "auth/jwt/config", config, h.root)).status).toBe(204);
      await h.call("POST", "auth/jwt/role/r", { role_type: "jwt", user_claim: "sub", bound_subject: "svc" }, h.root);
      expect((await h.call("POST", "auth/jwt/login", { role: "r", jwt: await sign(key, { sub: "svc", iat: now(), exp: now() + 60 }) })).status).toBe(200);
    } finally {
      setCustomCaTransport(null);
      await secure.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("what a jwt login hands the identity layer", () => {
  it("names the alias by the user claim (a JSON pointer where asked), with the metadata, and the groups claim as group aliases", async () => {
    const key = await signingKey("EdDSA");
    const storage = memoryStorage();
    const mount = testMount("jwt");
    const request = (operation: AuthRequest["operation"], path: string, data: Json): AuthRequest => ({
      operation,
      path,
      data,
      storage,
      mount,
      now: Date.now(),
    });
    await jwt.handle(request("update", "config", { jwt_validation_pubkeys: [await publicPem(key)] }));
    await jwt.handle(
      request("update", "role/team", {
        role_type: "jwt",
        user_claim: "/user/login",
        user_claim_json_pointer: true,
        bound_subject: "u-1",
        groups_claim: "groups",
        claim_mappings: { email: "email" },
      }),
    );
    const token = await sign(key, {
      sub: "u-1",
      user: { login: "alice" },
      email: "alice@example.com",
      groups: ["admins", "", "devs"],
      iat: now(),
      exp: now() + 60,
    });
    const grant = await jwt.login(request("update", "login", { role: "team", jwt: token }));
    expect(grant.alias).toEqual({ name: "alice", metadata: { email: "alice@example.com", role: "team" } });
    expect(grant.groupAliases).toEqual(["admins", "devs"]);
    expect(grant.displayName).toBe("alice");
    const oneGroup = await sign(key, { sub: "u-1", user: { login: "alice" }, groups: "admins", iat: now(), exp: now() + 60 });
    expect((await jwt.login(request("update", "login", { role: "team", jwt: oneGroup }))).groupAliases).toEqual(["admins"]);
    const badGroups = await sign(key, { sub: "u-1", user: { login: "alice" }, groups: { a: 1 }, iat: now(), exp: now() + 60 });
    await expect(jwt.login(request("update", "login", { role: "team", jwt: badGroups }))).rejects.toThrow(
      `"groups" claim could not be converted to string list`,
    );
  });
});
