/**
 * hvac's JWT and Kubernetes auth calls (as its integration tests make them) and the built CLI's
 * `login -method=jwt|kubernetes` against `strongbox server -dev`, with tokens signed here and a
 * JWKS + TokenReview server this file runs on loopback.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runHvac } from "../helpers/hvac.js";
import { certificatePem, type KeyServer, publicPem, type SigningKey, sign, signingKey, startKeyServer } from "../helpers/jwt-issuer.js";
import { runCli as strongbox } from "../helpers/server-process.js";

const now = () => Math.floor(Date.now() / 1000);
const UID = "0b8e3f0e-1c7f-4c55-9f0e-2a1d7c9e5b21";

describe("hvac and the CLI: jwt and kubernetes auth", () => {
  let server: DevServer;
  let issuer: KeyServer;
  let key: SigningKey;
  let home: string;

  beforeAll(async () => {
    key = await signingKey("RS256");
    issuer = await startKeyServer([key], {
      extraRoutes: (request, body) => {
        if (request.url !== "/apis/authentication.k8s.io/v1/tokenreviews") return null;
        const review = JSON.parse(body);
        return {
          status: 201,
          body: {
            ...review,
            status: { authenticated: true, user: { username: "system:serviceaccount:apps:web", uid: UID }, audiences: review.spec.audiences },
          },
        };
      },
    });
    server = await startDevServer();
    home = mkdtempSync(join(tmpdir(), "strongbox-jwt-home-"));
    const root = { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken, HOME: home };
    expect((await strongbox(["kv", "put", "secret/ci/deploy", "key=abc"], root)).code).toBe(0);
    expect((await strongbox(["kv", "put", "secret/prod/db", "password=no"], root)).code).toBe(0);
    writeFileSync(join(home, "ci.hcl"), `path "secret/data/ci/*" { capabilities = ["read"] }\n`);
    expect((await strongbox(["policy", "write", "ci", join(home, "ci.hcl")], root)).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    await issuer?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("hvac: configure, create/read/list roles, jwt_login, then a KV read allowed and one denied", async () => {
    const jwt = await sign(key, { iss: "https://ci.example", sub: "repo:org/app", aud: "vault", actor: "ci-bot", iat: now(), exp: now() + 300 });
    const run = await runHvac(
      [
        "client.sys.enable_auth_method(method_type='jwt')",
        `client.auth.jwt.configure(jwks_url=${JSON.stringify(`${issuer.url}/.well-known/jwks.json`)}, bound_issuer='https://ci.example')`,
        "config = client.auth.jwt.read_config()['data']",
        "client.auth.jwt.create_role(name='ci', role_type='jwt', user_claim='actor', allowed_redirect_uris=[], bound_audiences=['vault'], token_policies=['ci'], token_ttl='20m')",
        "role = client.auth.jwt.read_role(name='ci')['data']",
        "roles = client.auth.jwt.list_roles()['data']['keys']",
        `login = client.auth.jwt.jwt_login(role='ci', jwt=${JSON.stringify(jwt)})`,
        "allowed = client.secrets.kv.v2.read_secret_version(path='ci/deploy')['data']['data']",
        "try:",
        "    client.secrets.kv.v2.read_secret_version(path='prod/db')",
        "    denied = 'read'",
        "except hvac.exceptions.Forbidden:",
        "    denied = 'forbidden'",
        "client.token = os.environ['VAULT_TOKEN']",
        "client.auth.jwt.delete_role(name='ci')",
        "print(json.dumps({'jwks_url': config['jwks_url'], 'user_claim': role['user_claim'], 'roles': roles,",
        "  'policies': login['auth']['policies'], 'ttl': login['auth']['lease_duration'], 'metadata': login['auth']['metadata'],",
        "  'allowed': allowed, 'denied': denied}))",
      ].join("\n"),
      { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken },
    );
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      jwks_url: `${issuer.url}/.well-known/jwks.json`,
      user_claim: "actor",
      roles: ["ci"],
      policies: ["ci", "default"],
      ttl: 1200,
      metadata: { role: "ci" },
      allowed: { key: "abc" },
      denied: "forbidden",
    });
  });

  it("hvac: kubernetes configure, create_role with legacy fields, read, list, login through the TokenReview endpoint", async () => {
    const jwt = await sign(key, {
      iss: "https://kubernetes.default.svc",
      aud: ["https://kubernetes.default.svc"],
      sub: "system:serviceaccount:apps:web",
      iat: now(),
      exp: now() + 300,
      "kubernetes.io": { namespace: "apps", serviceaccount: { name: "web", uid: UID } },
    });
    const run = await runHvac(
      [
        "client.sys.enable_auth_method(method_type='kubernetes')",
        `client.auth.kubernetes.configure(kubernetes_host=${JSON.stringify(issuer.url)}, pem_keys=[${JSON.stringify(await certificatePem(key))}])`,
        "config = client.auth.kubernetes.read_config()",
        "client.auth.kubernetes.create_role(name='web', bound_service_account_names=['web'], bound_service_account_namespaces=['apps'], policies=['ci'], ttl='15m')",
        "role = client.auth.kubernetes.read_role(name='web')",
        "roles = client.auth.kubernetes.list_roles()",
        `login = client.auth.kubernetes.login(role='web', jwt=${JSON.stringify(jwt)})`,
        "allowed = client.secrets.kv.v2.read_secret_version(path='ci/deploy')['data']['data']",
        "print(json.dumps({'host': config['kubernetes_host'], 'names': role['bound_service_account_names'], 'roles': roles['keys'],",
        "  'policies': login['auth']['policies'], 'ttl': login['auth']['lease_duration'], 'metadata': login['auth']['metadata'], 'allowed': allowed}))",
      ].join("\n"),
      { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken },
    );
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      host: issuer.url,
      names: ["web"],
      roles: ["web"],
      policies: ["ci", "default"],
      ttl: 900,
      metadata: { role: "web", service_account_name: "web", service_account_namespace: "apps", service_account_uid: UID, service_account_secret_name: "" },
      allowed: { key: "abc" },
    });
  });

  it("hvac: an oidc mount's oidc_authorization_url_request answers the provider's URL with state, nonce and PKCE", async () => {
    const run = await runHvac(
      [
        "client.sys.enable_auth_method(method_type='oidc')",
        `client.auth.oidc.configure(oidc_discovery_url=${JSON.stringify(issuer.url)}, oidc_client_id='strongbox', oidc_client_secret='s', path='oidc')`,
        "client.auth.oidc.create_role(name='web', user_claim='email', allowed_redirect_uris=['http://localhost:8250/oidc/callback'], role_type='oidc', path='oidc')",
        "url = client.auth.oidc.oidc_authorization_url_request(role='web', redirect_uri='http://localhost:8250/oidc/callback', path='oidc')['data']['auth_url']",
        "print(json.dumps({'url': url}))",
      ].join("\n"),
      { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken },
    );
    expect(run.stderr).toBe("");
    const url = new URL(JSON.parse(run.stdout).url);
    expect(`${url.origin}${url.pathname}`).toBe(`${issuer.url}/authorize`);
    expect(url.searchParams.get("client_id")).toBe("strongbox");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("state")).toMatch(/^st_/);
  });

  it("the CLI: login -method=jwt role=… jwt=… and -method=kubernetes, the token stored for later commands; a refusal stores none", async () => {
    const root = { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken, HOME: home };
    const user = { VAULT_ADDR: server.addr, HOME: home };
    expect((await strongbox(["auth", "enable", "-path=cli-jwt", "jwt"], root)).code).toBe(0);
    expect((await strongbox(["write", "auth/cli-jwt/config", `jwt_validation_pubkeys=${await publicPem(key)}`], root)).code).toBe(0);
    expect((await strongbox(["write", "auth/cli-jwt/role/dev", "role_type=jwt", "user_claim=sub", "bound_subject=dev", "token_policies=ci"], root)).code).toBe(
      0,
    );
    const jwt = await sign(key, { sub: "dev", iat: now(), exp: now() + 300 });
    const login = await strongbox(["login", "-method=jwt", "-path=cli-jwt", "role=dev", `jwt=${jwt}`], user);
    expect(login.code).toBe(0);
    expect((await strongbox(["kv", "get", "-field=key", "secret/ci/deploy"], user)).stdout).toBe("abc");
    const expired = await sign(key, { sub: "dev", iat: now() - 900, exp: now() - 600 });
    const refused = await strongbox(["login", "-method=jwt", "-path=cli-jwt", "role=dev", `jwt=${expired}`], user);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("error validating token: invalid expiration time (exp) claim: token is expired");
    expect((await strongbox(["kv", "get", "-field=key", "secret/ci/deploy"], user)).stdout).toBe("abc");
    const saToken = join(home, "sa-token");
    writeFileSync(
      saToken,
      await sign(key, { iat: now(), exp: now() + 300, "kubernetes.io": { namespace: "apps", serviceaccount: { name: "web", uid: UID } } }),
    );
    const k8s = await strongbox(["login", "-method=kubernetes", "role=web", `jwt=@${saToken}`, "-token-only"], user);
    expect(k8s.code).toBe(0);
    expect(k8s.stdout).toMatch(/^hvs\.\S+$/);
  });
});
