/**
 * The Kubernetes auth method over HTTP on an in-process node. No Kubernetes API server runs here:
 * this file answers `POST /apis/authentication.k8s.io/v1/tokenreviews` itself, with the request and
 * response shapes of the Kubernetes API reference (authentication.k8s.io/v1 TokenReview), and
 * checks what the method sends it.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { customCaTransport } from "../../adapters/node/server/custom-ca-transport.js";
import { kubernetes } from "../../src/builtin/kubernetes/kubernetes.js";
import type { AuthRequest } from "../../src/sdk/auth.js";
import { setCustomCaTransport } from "../../src/sdk/outbound-http.js";
import { recordingDevice, serverWithAuditSink } from "../helpers/audited-server.js";
import { type Json, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";
import { memoryStorage, testMount } from "../helpers/memory-storage.js";
import { type KeyServer, publicPem, type SigningKey, sign, signingKey, startKeyServer } from "../helpers/jwt-issuer.js";
import { makeCertificates } from "../helpers/test-certificates.js";

type Server = Awaited<ReturnType<typeof unsealedServer>>;

const REVIEWER_JWT = "reviewer-service-account-token";
const UID = "6d2d1bd5-0a43-4d5a-9c3e-5f1c2b0e7a11";
const now = () => Math.floor(Date.now() / 1000);

/** A projected service account token's claims (what a pod's /var/run/secrets/... token holds). */
function projectedClaims(overrides: Json = {}): Json {
  return {
    aud: ["https://kubernetes.default.svc"],
    iss: "https://kubernetes.default.svc.cluster.local",
    sub: "system:serviceaccount:payments:api",
    iat: now(),
    nbf: now(),
    exp: now() + 3600,
    "kubernetes.io": { namespace: "payments", pod: { name: "api-7d9f", uid: "pod-uid" }, serviceaccount: { name: "api", uid: UID } },
    ...overrides,
  };
}

/** What the fake API server answers next, and what it was sent. */
interface ApiServer {
  reviews: { authorization: string | undefined; contentType: string | undefined; body: Json }[];
  answer: (review: Json) => { status: number; body: unknown };
}

/** The API server's answer for a valid token of payments/api, as the reference shows it. */
function authenticated(review: Json, user: Json = {}): { status: number; body: unknown } {
  return {
    status: 201,
    body: {
      kind: "TokenReview",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec: review.spec,
      status: {
        authenticated: true,
        user: { username: "system:serviceaccount:payments:api", uid: UID, groups: ["system:serviceaccounts", "system:serviceaccounts:payments"], ...user },
        audiences: review.spec.audiences ?? [],
      },
    },
  };
}

function tokenReviewRoute(api: ApiServer) {
  return (request: { method?: string; url?: string; headers: Record<string, string | string[] | undefined> }, body: string) => {
    if (request.method !== "POST" || request.url !== "/apis/authentication.k8s.io/v1/tokenreviews") return null;
    const review = JSON.parse(body);
    api.reviews.push({ authorization: request.headers.authorization as string, contentType: request.headers["content-type"] as string, body: review });
    return api.answer(review);
  };
}

describe("kubernetes auth against a TokenReview endpoint", () => {
  let h: Server;
  let cluster: KeyServer;
  let saKey: SigningKey;
  const api: ApiServer = { reviews: [], answer: authenticated };

  beforeAll(async () => {
    saKey = await signingKey("RS256");
    cluster = await startKeyServer([], { extraRoutes: tokenReviewRoute(api) });
    h = await unsealedServer();
    expect((await h.call("POST", "sys/auth/kubernetes", { type: "kubernetes" }, h.root)).status).toBe(204);
    expect((await h.call("POST", "auth/kubernetes/config", { kubernetes_host: cluster.url, token_reviewer_jwt: REVIEWER_JWT }, h.root)).status).toBe(204);
    const role = await h.call(
      "POST",
      "auth/kubernetes/role/payments-api",
      { bound_service_account_names: ["api", "worker-*"], bound_service_account_namespaces: "payments", token_policies: "payments", token_ttl: 900 },
      h.root,
    );
    expect(role.status).toBe(200);
    expect(role.body.warnings).toEqual([
      "Role payments-api does not have an audience configured. While audiences are not required, consider specifying one if your use case would benefit from additional JWT claim verification.",
    ]);
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    await h.call("PUT", "secret/payments/db", { password: "pw" }, h.root);
    await h.call("PUT", "secret/billing/db", { password: "no" }, h.root);
    await h.writePolicy("payments", `path "secret/payments/*" { capabilities = ["read"] }`);
  });
  afterAll(() => cluster.close());
  beforeEach(() => {
    api.reviews.length = 0;
    api.answer = authenticated;
  });

  it("logs in: the TokenReview request as the API reference shapes it, Vault's metadata, then a KV read allowed and one denied", async () => {
    const jwt = await sign(saKey, projectedClaims());
    const response = await h.call("POST", "auth/kubernetes/login", { role: "payments-api", jwt });
    expect(response.status).toBe(200);
    expect(api.reviews).toEqual([
      {
        authorization: `Bearer ${REVIEWER_JWT}`,
        contentType: "application/json",
        body: { kind: "TokenReview", apiVersion: "authentication.k8s.io/v1", spec: { token: jwt, audiences: ["https://kubernetes.default.svc"] } },
      },
    ]);
    const auth = response.body.auth;
    expect(auth.metadata).toEqual({
      role: "payments-api",
      service_account_name: "api",
      service_account_namespace: "payments",
      service_account_uid: UID,
      service_account_secret_name: "",
    });
    expect(auth.policies).toEqual(["default", "payments"]);
    expect(auth.lease_duration).toBe(900);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, auth.client_token)).body.data.display_name).toBe("kubernetes-payments-api");
    expect((await h.call("GET", "secret/payments/db", undefined, auth.client_token)).body.data).toEqual({ password: "pw" });
    expect(await h.call("GET", "secret/billing/db", undefined, auth.client_token)).toEqual({ status: 403, body: PERMISSION_DENIED });
  });

  it("reads a legacy secret-based token's claims too, and globs service account names", async () => {
    const legacy = {
      iss: "kubernetes/serviceaccount",
      "kubernetes.io/serviceaccount/namespace": "payments",
      "kubernetes.io/serviceaccount/secret.name": "worker-2-token-x7k2p",
      "kubernetes.io/serviceaccount/service-account.name": "worker-2",
      "kubernetes.io/serviceaccount/service-account.uid": UID,
      sub: "system:serviceaccount:payments:worker-2",
    };
    api.answer = (review) => authenticated(review, { username: "system:serviceaccount:payments:worker-2" });
    const response = await h.call("POST", "auth/kubernetes/login", { role: "payments-api", jwt: await sign(saKey, legacy) });
    expect(response.status).toBe(200);
    expect(response.body.auth.metadata.service_account_secret_name).toBe("worker-2-token-x7k2p");
    expect(api.reviews[0]!.body.spec.audiences).toEqual([]);
  });

  const refusals: [string, () => Promise<string>, ApiServer["answer"] | null, number, string][] = [
    [
      "another namespace",
      () => sign(saKey, projectedClaims({ "kubernetes.io": { namespace: "billing", serviceaccount: { name: "api", uid: UID } } })),
      null,
      403,
      "namespace not authorized",
    ],
    [
      "another service account",
      () => sign(saKey, projectedClaims({ "kubernetes.io": { namespace: "payments", serviceaccount: { name: "admin", uid: UID } } })),
      null,
      403,
      "service account name not authorized",
    ],
    [
      "an expired token",
      () => sign(saKey, projectedClaims({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })),
      null,
      403,
      "invalid expiration time (exp) claim: token is expired",
    ],
    [
      "alg none",
      async () => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify(projectedClaims())).toString("base64url")}.`,
      null,
      403,
      'error parsing token: unexpected signature algorithm "none"',
    ],
    [
      "a token the API server does not authenticate",
      () => sign(saKey, projectedClaims()),
      (review) => ({ status: 201, body: { ...review, status: { authenticated: false, error: "token expired" } } }),
      403,
      PERMISSION_DENIED.errors[0]!,
    ],
    [
      "a reviewer the API server refuses (401)",
      () => sign(saKey, projectedClaims()),
      () => ({ status: 401, body: { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Unauthorized", code: 401 } }),
      403,
      PERMISSION_DENIED.errors[0]!,
    ],
    [
      "a UID the API server does not confirm",
      () => sign(saKey, projectedClaims()),
      (review) => authenticated(review, { uid: "another-uid" }),
      403,
      PERMISSION_DENIED.errors[0]!,
    ],
    [
      "an account the API server names differently",
      () => sign(saKey, projectedClaims()),
      (review) => authenticated(review, { username: "system:serviceaccount:payments:other" }),
      403,
      PERMISSION_DENIED.errors[0]!,
    ],
    [
      "a user that is no service account",
      () => sign(saKey, projectedClaims()),
      (review) => authenticated(review, { username: "kubernetes-admin" }),
      403,
      PERMISSION_DENIED.errors[0]!,
    ],
  ];
  for (const [what, token, answer, status, error] of refusals) {
    it(`refuses ${what}: ${status} with Vault's text, no token`, async () => {
      if (answer) api.answer = answer;
      expect(await h.call("POST", "auth/kubernetes/login", { role: "payments-api", jwt: await token() })).toEqual({ status, body: { errors: [error] } });
    });
  }

  it("answers missing fields and unknown roles as Vault does", async () => {
    expect(await h.call("POST", "auth/kubernetes/login", { jwt: "x" })).toEqual({ status: 400, body: { errors: ["missing role"] } });
    expect(await h.call("POST", "auth/kubernetes/login", { role: "payments-api" })).toEqual({ status: 400, body: { errors: ["missing jwt"] } });
    expect(await h.call("POST", "auth/kubernetes/login", { role: "nope", jwt: "x" })).toEqual({ status: 400, body: { errors: [`invalid role name "nope"`] } });
    expect(await h.call("POST", "auth/kubernetes/login", { role: "payments-api", jwt: "garbage" })).toEqual({
      status: 403,
      body: { errors: ["error parsing token: compact JWS format must have three parts"] },
    });
  });

  it("refuses to renew once the login's role is gone or grants other policies", async () => {
    const role = (token_policies: string[]) => ({ bound_service_account_names: "*", bound_service_account_namespaces: "*", token_policies });
    await h.call("POST", "auth/kubernetes/role/renewal", role(["reader"]), h.root);
    const login = await h.call("POST", "auth/kubernetes/login", { role: "renewal", jwt: await sign(saKey, projectedClaims()) });
    const token = login.body.auth.client_token;
    expect((await h.call("POST", "auth/token/renew-self", {}, token)).status).toBe(200);
    await h.call("POST", "auth/kubernetes/role/renewal", role(["writer"]), h.root);
    expect(await h.call("POST", "auth/token/renew-self", {}, token)).toMatchObject({ status: 400, body: { errors: ["policies have changed, not renewing"] } });
    await h.call("DELETE", "auth/kubernetes/role/renewal", undefined, h.root);
    expect((await h.call("POST", "auth/token/renew-self", {}, token)).body.errors).toEqual(['role "renewal" no longer exists; not renewing']);
  });

  it("checks the audience on the token and asks the API server for it", async () => {
    await h.call("POST", "auth/kubernetes/role/aud", { bound_service_account_names: "*", bound_service_account_namespaces: "*", audience: "vault" }, h.root);
    expect(await h.call("POST", "auth/kubernetes/login", { role: "aud", jwt: await sign(saKey, projectedClaims()) })).toEqual({
      status: 403,
      body: { errors: ["invalid audience (aud) claim: audience claim does not match any expected audience"] },
    });
    const response = await h.call("POST", "auth/kubernetes/login", { role: "aud", jwt: await sign(saKey, projectedClaims({ aud: ["vault"] })) });
    expect(response.status).toBe(200);
    expect(api.reviews.at(-1)!.body.spec.audiences).toEqual(["vault"]);
  });

  it("verifies the signature itself when pem_keys are set, and the issuer when issuer is set and checked", async () => {
    const h2 = await unsealedServer();
    await h2.call("POST", "sys/auth/k8s", { type: "kubernetes" }, h2.root);
    const config = {
      kubernetes_host: cluster.url,
      pem_keys: [await publicPem(saKey)],
      issuer: "https://kubernetes.default.svc.cluster.local",
      disable_iss_validation: false,
    };
    expect((await h2.call("POST", "auth/k8s/config", config, h2.root)).status).toBe(204);
    expect((await h2.call("GET", "auth/k8s/config", undefined, h2.root)).body.data).toEqual({
      kubernetes_host: cluster.url,
      kubernetes_ca_cert: "",
      pem_keys: config.pem_keys,
      issuer: config.issuer,
      disable_iss_validation: false,
      disable_local_ca_jwt: false,
      token_reviewer_jwt_set: false,
      use_annotations_as_alias_metadata: false,
    });
    await h2.call("POST", "auth/k8s/role/r", { bound_service_account_names: "api", bound_service_account_namespaces: "payments" }, h2.root);
    const forged = await sign(await signingKey("RS256"), projectedClaims());
    expect(await h2.call("POST", "auth/k8s/login", { role: "r", jwt: forged })).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect(await h2.call("POST", "auth/k8s/login", { role: "r", jwt: await sign(saKey, projectedClaims({ iss: "https://evil" })) })).toEqual({
      status: 403,
      body: { errors: ["invalid issuer (iss) claim"] },
    });
    const good = await h2.call("POST", "auth/k8s/login", { role: "r", jwt: await sign(saKey, projectedClaims()) });
    expect(good.status).toBe(200);
    // Without token_reviewer_jwt, the reviewed token is its own authority (Vault's fallback).
    expect(api.reviews.at(-1)!.authorization).toBe(`Bearer ${api.reviews.at(-1)!.body.spec.token}`);
  });

  it("validates config and role fields with Vault's texts", async () => {
    const bad = async (path: string, body: Json) => (await h.call("POST", `auth/kubernetes/${path}`, body, h.root)).body.errors;
    expect(await bad("config", {})).toEqual(["no host provided"]);
    expect(await bad("config", { kubernetes_host: cluster.url, kubernetes_ca_cert: "not a pem" })).toEqual([
      "The provided CA PEM data contains no valid certificates",
    ]);
    expect(await bad("config", { kubernetes_host: cluster.url, pem_keys: ["nope"] })).toEqual(["data does not contain any valid RSA or ECDSA public keys"]);
    expect(await bad("role/x", { bound_service_account_namespaces: "a" })).toEqual([`"bound_service_account_names" can not be empty`]);
    expect(await bad("role/x", { bound_service_account_names: "a" })).toEqual([
      `"bound_service_account_namespaces" can not be empty if "bound_service_account_namespace_selector" is not set`,
    ]);
    expect(await bad("role/x", { bound_service_account_names: ["*", "a"], bound_service_account_namespaces: "a" })).toEqual([`can not mix "*" with values`]);
    expect(await bad("role/x", { bound_service_account_names: "a", bound_service_account_namespaces: "a", alias_name_source: "pod" })).toEqual([
      "invalid alias_name_source, must be one of: serviceaccount_uid, serviceaccount_name",
    ]);
    const read = (await h.call("GET", "auth/kubernetes/role/payments-api", undefined, h.root)).body.data;
    expect(read).toMatchObject({
      bound_service_account_names: ["api", "worker-*"],
      bound_service_account_namespaces: ["payments"],
      bound_service_account_namespace_selector: "",
      alias_name_source: "serviceaccount_uid",
      token_policies: ["payments"],
      token_ttl: 900,
    });
    expect(read.audience).toBeUndefined();
    expect((await h.call("LIST", "auth/kubernetes/role", undefined, h.root)).body.data.keys).toEqual(["aud", "payments-api"]);
  });

  it("names the alias by the service account's UID, or namespace/name with alias_name_source, with Vault's alias metadata", async () => {
    const storage = memoryStorage();
    const mount = testMount("kubernetes");
    const request = (path: string, data: Json): AuthRequest => ({ operation: "update", path, data, storage, mount, now: Date.now() });
    await kubernetes.handle(request("config", { kubernetes_host: cluster.url }));
    await kubernetes.handle(request("role/by-uid", { bound_service_account_names: "api", bound_service_account_namespaces: "payments" }));
    await kubernetes.handle(
      request("role/by-name", { bound_service_account_names: "api", bound_service_account_namespaces: "payments", alias_name_source: "serviceaccount_name" }),
    );
    const jwt = await sign(saKey, projectedClaims());
    const metadata = { service_account_name: "api", service_account_namespace: "payments", service_account_uid: UID, service_account_secret_name: "" };
    expect((await kubernetes.login(request("login", { role: "by-uid", jwt }))).alias).toEqual({ name: UID, metadata });
    const byName = await kubernetes.login(request("login", { role: "by-name", jwt }));
    expect(byName.alias).toEqual({ name: "payments/api", metadata });
    expect(byName.displayName).toBe("payments-api");
    expect(byName.groupAliases).toBeUndefined();
  });

  it("trusts kubernetes_ca_cert for an HTTPS API server, and only it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "k8s-ca-"));
    const certificates = await makeCertificates(dir);
    const tls = { cert: await readFile(certificates.serverCertFile, "utf8"), key: await readFile(certificates.serverKeyFile, "utf8") };
    const secure = await startKeyServer([], { tls, extraRoutes: tokenReviewRoute(api) });
    setCustomCaTransport(customCaTransport);
    try {
      const h3 = await unsealedServer();
      await h3.call("POST", "sys/auth/kubernetes", { type: "kubernetes" }, h3.root);
      await h3.call("POST", "auth/kubernetes/role/r", { bound_service_account_names: "api", bound_service_account_namespaces: "payments" }, h3.root);
      const jwt = await sign(saKey, projectedClaims());
      await h3.call("POST", "auth/kubernetes/config", { kubernetes_host: secure.url }, h3.root);
      expect(await h3.call("POST", "auth/kubernetes/login", { role: "r", jwt })).toEqual({ status: 403, body: PERMISSION_DENIED });
      await h3.call(
        "POST",
        "auth/kubernetes/config",
        { kubernetes_host: secure.url, kubernetes_ca_cert: await readFile(certificates.caFile, "utf8") },
        h3.root,
      );
      expect((await h3.call("POST", "auth/kubernetes/login", { role: "r", jwt })).status).toBe(200);
    } finally {
      setCustomCaTransport(null);
      await secure.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("audit entries of a jwt login", () => {
  it("hold the jwt and the issued token only as HMACs", async () => {
    const { device, sink } = recordingDevice();
    const server = await serverWithAuditSink(sink);
    expect((await server.call("PUT", "sys/audit/recorder", { type: "file", options: { file_path: "/unused" } }, server.root)).status).toBe(204);
    const key = await signingKey("ES384");
    await server.call("POST", "sys/auth/jwt", { type: "jwt" }, server.root);
    await server.call("POST", "auth/jwt/config", { jwt_validation_pubkeys: [await publicPem(key)] }, server.root);
    await server.call("POST", "auth/jwt/role/r", { role_type: "jwt", user_claim: "sub", bound_subject: "svc" }, server.root);
    const jwt = await sign(key, { sub: "svc", iat: now(), exp: now() + 60 });
    const login = await server.call("POST", "auth/jwt/login", { role: "r", jwt });
    expect(login.status).toBe(200);
    const entries = device.entries().filter((entry) => entry.request?.path === "auth/jwt/login");
    expect(entries.map((entry) => entry.type)).toEqual(["request", "response"]);
    for (const entry of entries) expect(entry.request.data.jwt).toMatch(/^hmac-sha256:/);
    const text = device.lines.join("\n");
    expect(text).not.toContain(jwt);
    expect(text).not.toContain(login.body.auth.client_token);
  });
});
