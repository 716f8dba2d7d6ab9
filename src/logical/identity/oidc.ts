/**
 * Vault's identity token provider (`identity/oidc/...`): named signing keys that rotate on
 * schedule (a retired key stays published for its `verification_ttl`, so tokens it signed still
 * verify), roles that say which key signs and which claims a token carries, tokens for the
 * calling token's entity, introspection, and the unauthenticated discovery documents. Keys are
 * WebCrypto keys kept behind the barrier; `jose` encodes the JWTs and JWKs.
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from "jose";
import type { Endpoint } from "../../sdk/framework.js";
import { parseNonNegativeDuration } from "../../sdk/fields.js";
import { decodeJson, encodeJson, fromBase64, randomBase62, randomUuid, toBase64 } from "../../sdk/encoding.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { listResponse, notFound } from "../../sdk/responses.js";
import { type HandlerResult, LogicalError } from "../../sdk/types.js";
import { type IdentityRequest, stringField, stringListField } from "./fields.js";
import type { IdentityStore } from "./store.js";
import { fillClaimsTemplate, placeholderKeys, validClaimKey } from "./template.js";

const ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
type Algorithm = (typeof ALGORITHMS)[number];
const DAY = 24 * 3600;
/** Claims the provider sets itself; a role's template cannot set them. */
const RESERVED_CLAIMS = new Set(["iat", "aud", "exp", "iss", "sub", "namespace", "nbf", "auth_time"]);

interface PublicKey {
  kid: string;
  jwk: JWK;
  /** Epoch ms after which a retired key is no longer published. */
  expire_at?: number;
}

interface NamedKey {
  name: string;
  algorithm: Algorithm;
  rotation_period: number;
  verification_ttl: number;
  allowed_client_ids: string[];
  /** Epoch ms. */
  next_rotation: number;
  signing: { kid: string; private: JWK; public: JWK };
  retired: PublicKey[];
}

interface Role {
  name: string;
  key: string;
  template: string;
  ttl: number;
  client_id: string;
}

export class OidcProvider {
  readonly #keyLock = new KeyedLock();

  constructor(private readonly store: IdentityStore) {}

  /** Rotates every key whose rotation is due, so a key nobody signs with still rotates on schedule. */
  async periodic(now: number): Promise<void> {
    for (const name of await this.#names("oidc/key/")) await this.#current(name, now);
  }

  endpoints(): Endpoint<IdentityRequest>[] {
    return [
      { pattern: "oidc/config", operations: { read: () => this.#readConfig(), update: (request) => this.#writeConfig(request) } },
      { pattern: "oidc/key", operations: { list: async () => listResponse(await this.#names("oidc/key/")) } },
      {
        pattern: "oidc/key/:name",
        operations: {
          read: async (_request, { name }) => describeKey(await this.#requireKey(name!)),
          update: (request, { name }) => this.#writeKey(request, name!),
          delete: (_request, { name }) => this.#deleteKey(name!),
        },
      },
      { pattern: "oidc/key/:name/rotate", operations: { update: (request, { name }) => this.#rotateNow(request, name!) } },
      { pattern: "oidc/role", operations: { list: async () => listResponse(await this.#names("oidc/role/")) } },
      {
        pattern: "oidc/role/:name",
        operations: {
          read: async (_request, { name }) => {
            const role = await this.#role(name!);
            return role && { data: { key: role.key, template: role.template, ttl: role.ttl, client_id: role.client_id } };
          },
          update: (request, { name }) => this.#writeRole(request, name!),
          delete: async (_request, { name }) => (await this.store.storage.delete(`oidc/role/${name}`), null),
        },
      },
      { pattern: "oidc/token/:name", operations: { read: (request, { name }) => this.#issue(request, name!) } },
      // A POST that writes nothing: standbys answer it too.
      { pattern: "oidc/introspect", standby: true, operations: { update: (request) => this.#introspect(request) } },
      { pattern: "oidc/.well-known/openid-configuration", unauthenticated: true, operations: { read: (request) => this.#discovery(request) } },
      { pattern: "oidc/.well-known/keys", unauthenticated: true, operations: { read: (request) => this.#jwks(request) } },
    ];
  }

  async #issuerBase(): Promise<string> {
    const bytes = await this.store.storage.get("oidc/config");
    return bytes ? decodeJson<{ issuer: string }>(bytes).issuer : "";
  }

  async #issuer(): Promise<string> {
    return `${await this.#issuerBase()}/v1/identity/oidc`;
  }

  async #readConfig(): Promise<HandlerResult> {
    return { data: { issuer: await this.#issuerBase() } };
  }

  async #writeConfig({ data }: IdentityRequest): Promise<HandlerResult> {
    const issuer = stringField(data, "issuer").replace(/\/+$/, "");
    if (issuer) {
      let url: URL;
      try {
        url = new URL(issuer);
      } catch {
        throw new LogicalError(400, `invalid issuer "${issuer}": expected a URL`);
      }
      if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) {
        throw new LogicalError(400, "invalid issuer, which must include only a scheme, host, and optional port");
      }
    }
    await this.store.storage.put("oidc/config", encodeJson({ issuer }));
    return null;
  }

  async #names(prefix: string): Promise<string[]> {
    return (await this.store.storage.list(prefix)).filter((key) => !key.endsWith("/"));
  }

  async #key(name: string): Promise<NamedKey | null> {
    const bytes = await this.store.storage.get(`oidc/key/${name}`);
    return bytes ? decodeJson<NamedKey>(bytes) : null;
  }

  async #requireKey(name: string): Promise<NamedKey> {
    const key = await this.#key(name);
    if (!key) throw notFound();
    return key;
  }

  async #role(name: string): Promise<Role | null> {
    const bytes = await this.store.storage.get(`oidc/role/${name}`);
    return bytes ? decodeJson<Role>(bytes) : null;
  }

  async #writeKey({ data, now }: IdentityRequest, name: string): Promise<HandlerResult> {
    return this.#keyLock.run(name, async () => {
      const existing = await this.#key(name);
      const algorithm = (stringField(data, "algorithm") || existing?.algorithm || "RS256") as Algorithm;
      if (!ALGORITHMS.includes(algorithm)) throw new LogicalError(400, `unknown signing algorithm "${algorithm}"`);
      const rotation = parseNonNegativeDuration("rotation_period", data.rotation_period) ?? existing?.rotation_period ?? DAY;
      const verification = parseNonNegativeDuration("verification_ttl", data.verification_ttl) ?? existing?.verification_ttl ?? DAY;
      if (rotation < 60) throw new LogicalError(400, "rotation_period must be at least one minute");
      if (verification > 10 * rotation) throw new LogicalError(400, "verification_ttl cannot be longer than 10x rotation_period");
      const allowed = stringListField(data, "allowed_client_ids") ?? existing?.allowed_client_ids ?? [];
      for (const role of await this.#rolesUsing(name)) {
        if (role.ttl > verification)
          throw new LogicalError(400, `unable to update key "${name}" because its verification_ttl is shorter than the ttl of role "${role.name}"`);
      }
      let key: NamedKey;
      if (!existing || existing.algorithm !== algorithm) {
        key = {
          name,
          algorithm,
          rotation_period: rotation,
          verification_ttl: verification,
          allowed_client_ids: allowed,
          next_rotation: 0,
          signing: await newSigningKey(algorithm),
          retired: [],
        };
        // A new algorithm: the old key stays published, as after a rotation.
        if (existing)
          key.retired = [...existing.retired, { kid: existing.signing.kid, jwk: existing.signing.public, expire_at: now + existing.verification_ttl * 1000 }];
      } else {
        key = { ...existing, rotation_period: rotation, verification_ttl: verification, allowed_client_ids: allowed };
      }
      key.next_rotation = now + rotation * 1000;
      await this.store.storage.put(`oidc/key/${name}`, encodeJson(key));
      return null;
    });
  }

  async #rolesUsing(keyName: string): Promise<Role[]> {
    const roles = await Promise.all((await this.#names("oidc/role/")).map((name) => this.#role(name)));
    return roles.filter((role): role is Role => role?.key === keyName);
  }

  async #deleteKey(name: string): Promise<HandlerResult> {
    const users = await this.#rolesUsing(name);
    if (users.length > 0) {
      throw new LogicalError(400, `unable to delete key "${name}" because it is currently referenced by these roles: ${users.map((r) => r.name).join(", ")}`);
    }
    await this.store.storage.delete(`oidc/key/${name}`);
    return null;
  }

  async #rotateNow({ data, now }: IdentityRequest, name: string): Promise<HandlerResult> {
    const verification = parseNonNegativeDuration("verification_ttl", data.verification_ttl);
    await this.#keyLock.run(name, async () => {
      const key = await this.#requireKey(name);
      await this.#rotate(key, now, verification ?? key.verification_ttl);
    });
    return null;
  }

  async #rotate(key: NamedKey, now: number, verification: number): Promise<NamedKey> {
    const retired = [
      ...key.retired.filter((old) => (old.expire_at ?? 0) > now),
      { kid: key.signing.kid, jwk: key.signing.public, expire_at: now + verification * 1000 },
    ];
    const rotated: NamedKey = { ...key, signing: await newSigningKey(key.algorithm), retired, next_rotation: now + key.rotation_period * 1000 };
    await this.store.storage.put(`oidc/key/${key.name}`, encodeJson(rotated));
    return rotated;
  }

  /** The key, rotated first when its rotation is due (on a standby that write sends the request to the active). */
  async #current(name: string, now: number): Promise<NamedKey | null> {
    const key = await this.#key(name);
    if (!key || now < key.next_rotation) return key;
    return this.#keyLock.run(name, async () => {
      const fresh = await this.#key(name);
      return fresh && now >= fresh.next_rotation ? this.#rotate(fresh, now, fresh.verification_ttl) : fresh;
    });
  }

  async #writeRole({ data }: IdentityRequest, name: string): Promise<HandlerResult> {
    const existing = await this.#role(name);
    const keyName = stringField(data, "key") || existing?.key || "";
    if (!keyName) throw new LogicalError(400, "the key parameter is required");
    const key = await this.#key(keyName);
    if (!key) throw new LogicalError(400, `key "${keyName}" does not exist`);
    const ttl = parseNonNegativeDuration("ttl", data.ttl) ?? existing?.ttl ?? DAY;
    if (ttl > key.verification_ttl) throw new LogicalError(400, "a role's token ttl cannot be longer than the verification_ttl of the key it references");
    const template = data.template === undefined ? (existing?.template ?? "") : decodeTemplate(stringField(data, "template"));
    const clientId = existing?.client_id ?? randomBase62(26);
    await this.store.storage.put(`oidc/role/${name}`, encodeJson({ name, key: keyName, template, ttl, client_id: clientId } satisfies Role));
    return null;
  }

  async #issue({ now, entityId }: IdentityRequest, roleName: string): Promise<HandlerResult> {
    const role = await this.#role(roleName);
    if (!role) throw new LogicalError(400, `role "${roleName}" not found`);
    const view = entityId ? await this.store.view(entityId) : null;
    if (!view) throw new LogicalError(400, "no entity associated with the request's token");
    const key = await this.#current(role.key, now);
    if (!key) throw new LogicalError(400, `key "${role.key}" not found`);
    if (!key.allowed_client_ids.includes("*") && !key.allowed_client_ids.includes(role.client_id)) {
      throw new LogicalError(400, `the key "${role.key}" does not list the client ID of the role "${roleName}" as an allowed client ID`);
    }
    const issuedAt = Math.floor(now / 1000);
    const claims = role.template ? templateClaims(fillClaimsTemplate(role.template, view, issuedAt)) : {};
    const signingKey = await importJWK(key.signing.private, key.algorithm);
    const token = await new SignJWT({ ...claims, namespace: "root" })
      .setProtectedHeader({ alg: key.algorithm, kid: key.signing.kid })
      .setIssuer(await this.#issuer())
      .setSubject(view.entity.id)
      .setAudience(role.client_id)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + role.ttl)
      .sign(signingKey);
    return { data: { client_id: role.client_id, token, ttl: role.ttl } };
  }

  async #introspect({ data, now }: IdentityRequest): Promise<HandlerResult> {
    const token = stringField(data, "token");
    if (!token) throw new LogicalError(400, "missing token");
    const clientId = stringField(data, "client_id");
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: await this.#publishedKeys(now) }), {
        issuer: await this.#issuer(),
        currentDate: new Date(now),
        ...(clientId && { audience: clientId }),
      });
      if (payload.sub && !(await this.store.view(payload.sub))) return { data: { active: false, error: "entity was not found" } };
      return { data: { active: true } };
    } catch (error) {
      return { data: { active: false, error: error instanceof Error ? error.message : "invalid token" } };
    }
  }

  async #publishedKeys(now: number): Promise<JWK[]> {
    const keys = await Promise.all((await this.#names("oidc/key/")).map((name) => this.#current(name, now)));
    return keys.flatMap((key) =>
      key
        ? [
            { ...key.signing.public, kid: key.signing.kid, alg: key.algorithm, use: "sig" },
            ...key.retired.filter((old) => (old.expire_at ?? 0) > now).map((old) => ({ ...old.jwk, kid: old.kid, alg: key.algorithm, use: "sig" })),
          ]
        : [],
    );
  }

  async #jwks({ now }: IdentityRequest): Promise<HandlerResult> {
    return jsonDocument({ keys: await this.#publishedKeys(now) });
  }

  async #discovery({ now }: IdentityRequest): Promise<HandlerResult> {
    const issuer = await this.#issuer();
    const keys = await this.#publishedKeys(now);
    const algorithms = [...new Set(keys.map((key) => key.alg))];
    return jsonDocument({
      issuer,
      jwks_uri: `${issuer}/.well-known/keys`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: algorithms.length > 0 ? algorithms : ["RS256"],
    });
  }
}

/** A discovery document as OIDC clients and JOSE libraries read it: bare JSON, no Vault envelope (a raw response). */
function jsonDocument(document: Record<string, unknown>): HandlerResult {
  return { raw: true, data: { http_status_code: 200, http_content_type: "application/json", http_raw_body: toBase64(encodeJson(document)) } };
}

async function newSigningKey(algorithm: Algorithm): Promise<NamedKey["signing"]> {
  const pair = await generateKeyPair(algorithm, { extractable: true });
  return { kid: randomUuid(), private: await exportJWK(pair.privateKey), public: await exportJWK(pair.publicKey) };
}

function describeKey(key: NamedKey): HandlerResult {
  return {
    data: {
      algorithm: key.algorithm,
      allowed_client_ids: key.allowed_client_ids,
      rotation_period: key.rotation_period,
      verification_ttl: key.verification_ttl,
    },
  };
}

/** A role's template: JSON, or base64 of JSON, whose placeholders are known and whose claims are not reserved. */
function decodeTemplate(text: string): string {
  if (text === "") return "";
  let template = text;
  if (!template.trimStart().startsWith("{")) {
    try {
      template = new TextDecoder("utf-8", { fatal: true }).decode(fromBase64(text));
    } catch {
      throw new LogicalError(400, "error parsing template JSON: not JSON and not base64-encoded JSON");
    }
  }
  for (const key of placeholderKeys(template)) {
    if (!validClaimKey(key)) throw new LogicalError(400, `error parsing template: unknown template key "${key}"`);
  }
  templateClaims(template.replace(/\{\{[^{}]*\}\}/g, "null"));
  return template;
}

function templateClaims(filled: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(filled);
  } catch (error) {
    throw new LogicalError(400, `error parsing template JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new LogicalError(400, "error parsing template JSON: not an object");
  const claims: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (RESERVED_CLAIMS.has(name)) throw new LogicalError(400, `top level key "${name}" not allowed. Restricted keys: ${[...RESERVED_CLAIMS].join(", ")}`);
    if (value !== null) claims[name] = value;
  }
  return claims;
}
