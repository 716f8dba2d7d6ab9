import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

const ISSUER = "https://strongbox.example:8200";

describe("identity/oidc: identity tokens", () => {
  let server: InProcessServer;
  let token: string;
  let entityId: string;
  beforeEach(async () => {
    server = await unsealedServer();
    await server.call("POST", "sys/auth/userpass", { type: "userpass" }, server.root);
    await server.call("POST", "auth/userpass/users/alice", { password: "pw", token_policies: ["tokens"] }, server.root);
    await server.writePolicy("tokens", `path "identity/oidc/token/*" { capabilities = ["read"] }`);
    expect((await server.call("POST", "identity/oidc/config", { issuer: ISSUER }, server.root)).status).toBe(204);
    const auth = (await server.call("POST", "auth/userpass/login/alice", { password: "pw" })).body.auth;
    token = auth.client_token;
    entityId = auth.entity_id;
    await server.call("POST", `identity/entity/id/${entityId}`, { name: "alice", metadata: { team: "blue" } }, server.root);
  });

  const publishedKeys = async () => {
    const answer = await server.callText("GET", "identity/oidc/.well-known/keys");
    expect(answer.status).toBe(200);
    return JSON.parse(answer.text) as JSONWebKeySet;
  };

  for (const algorithm of ["RS256", "RS512", "ES256", "ES384", "ES512", "EdDSA"]) {
    it(`signs with ${algorithm}; the token verifies against .well-known/keys with jose`, async () => {
      await server.call("POST", "identity/oidc/key/signer", { algorithm, allowed_client_ids: ["*"] }, server.root);
      // Vault's templates put placeholders where JSON values go, unquoted.
      const template = '{"team": {{identity.entity.metadata.team}}, "username": {{identity.entity.name}}, "groups": {{identity.entity.groups.names}}}';
      expect((await server.call("POST", "identity/oidc/role/app", { key: "signer", ttl: "1h", template }, server.root)).status).toBe(204);
      const role = (await server.call("GET", "identity/oidc/role/app", undefined, server.root)).body.data;
      const issued = await server.call("GET", "identity/oidc/token/app", undefined, token);
      expect(issued.status).toBe(200);
      expect(issued.body.data).toMatchObject({ client_id: role.client_id, ttl: 3600 });
      const jwt = issued.body.data.token as string;
      expect(decodeProtectedHeader(jwt).alg).toBe(algorithm);

      const { payload } = await jwtVerify(jwt, createLocalJWKSet(await publishedKeys()), {
        issuer: `${ISSUER}/v1/identity/oidc`,
        audience: role.client_id,
      });
      expect(payload).toMatchObject({ sub: entityId, namespace: "root", team: "blue", username: "alice", groups: [] });
      expect(payload.exp! - payload.iat!).toBe(3600);

      const introspected = await server.call("POST", "identity/oidc/introspect", { token: jwt, client_id: role.client_id }, server.root);
      expect(introspected.body.data).toEqual({ active: true });
      const tampered = `${jwt.slice(0, -4)}AAAA`;
      expect((await server.call("POST", "identity/oidc/introspect", { token: tampered }, server.root)).body.data.active).toBe(false);
    });
  }

  it("serves the discovery document without a token, in OIDC's shape", async () => {
    await server.call("POST", "identity/oidc/key/signer", { algorithm: "ES256" }, server.root);
    const answer = await server.callText("GET", "identity/oidc/.well-known/openid-configuration");
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({
      issuer: `${ISSUER}/v1/identity/oidc`,
      jwks_uri: `${ISSUER}/v1/identity/oidc/.well-known/keys`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["ES256"],
    });
  });

  it("rotates keys on schedule and keeps a retired key published for verification_ttl", async () => {
    await server.call(
      "POST",
      "identity/oidc/key/signer",
      { algorithm: "RS256", rotation_period: "1h", verification_ttl: "2h", allowed_client_ids: ["*"] },
      server.root,
    );
    await server.call("POST", "identity/oidc/role/app", { key: "signer", ttl: "30m" }, server.root);
    const jwt = (await server.call("GET", "identity/oidc/token/app", undefined, token)).body.data.token as string;
    const firstKid = decodeProtectedHeader(jwt).kid;
    expect((await publishedKeys()).keys.map((key) => key.kid)).toEqual([firstKid]);

    server.advance(3601);
    const kids = (await publishedKeys()).keys.map((key) => key.kid);
    expect(kids).toHaveLength(2);
    expect(kids).toContain(firstKid);
    const next = (await server.call("GET", "identity/oidc/token/app", undefined, token)).body.data.token as string;
    expect(decodeProtectedHeader(next).kid).not.toBe(firstKid);

    // Two hours after the rotation the old key is gone; a further rotation has happened meanwhile.
    server.advance(2 * 3600 + 1);
    expect((await publishedKeys()).keys.map((key) => key.kid)).not.toContain(firstKid);
  });

  it("refuses what Vault refuses", async () => {
    await server.call("POST", "identity/oidc/key/narrow", { allowed_client_ids: ["someone-else"] }, server.root);
    await server.call("POST", "identity/oidc/role/app", { key: "narrow" }, server.root);
    const notAllowed = await server.call("GET", "identity/oidc/token/app", undefined, token);
    expect(notAllowed.status).toBe(400);
    expect(notAllowed.body.errors[0]).toContain("does not list the client ID of the role");
    // Root has no entity.
    await server.call("POST", "identity/oidc/key/narrow", { allowed_client_ids: ["*"] }, server.root);
    expect((await server.call("GET", "identity/oidc/token/app", undefined, server.root)).body.errors).toEqual([
      "no entity associated with the request's token",
    ]);
    const inUse = await server.call("DELETE", "identity/oidc/key/narrow", undefined, server.root);
    expect(inUse.status).toBe(400);
    expect(inUse.body.errors[0]).toContain("currently referenced by these roles: app");
    const reserved = await server.call("POST", "identity/oidc/role/bad", { key: "narrow", template: '{"sub": "me"}' }, server.root);
    expect(reserved.status).toBe(400);
    const tooLong = await server.call("POST", "identity/oidc/role/long", { key: "narrow", ttl: "48h" }, server.root);
    expect(tooLong.status).toBe(400);
    const unknownKey = await server.call("POST", "identity/oidc/role/x", { key: "narrow", template: '{"a": {{identity.entity.nope}}}' }, server.root);
    expect(unknownKey.status).toBe(400);
    expect((await server.call("POST", "identity/oidc/config", { issuer: "not a url" }, server.root)).status).toBe(400);
    expect((await server.call("GET", "identity/oidc/token/missing", undefined, token)).status).toBe(400);
    expect((await server.call("GET", "identity/oidc/role/app", undefined, token)).status).toBe(403);
  });
});
