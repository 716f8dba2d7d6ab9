/**
 * Where a JWT mount's verification keys come from: PEM keys in its configuration, a JWKS URL, or
 * the `jwks_uri` of an OIDC discovery document. Remote keys are cached per mount and fetched
 * again when a token names a `kid` the cache lacks (keys were rotated), at most once per
 * {@link KID_REFRESH_INTERVAL_MS} so that tokens with made-up `kid`s cannot make the node hammer
 * the key server.
 */
import type { JWK } from "jose";
import { publicKeyFromPem, tokenHeader } from "../../sdk/jws.js";
import { outboundHttp } from "../../sdk/outbound-http.js";

/** The configuration fields that say where keys come from. */
export interface KeySource {
  jwt_validation_pubkeys: string[];
  jwks_url: string;
  jwks_ca_pem: string;
  oidc_discovery_url: string;
  oidc_discovery_ca_pem: string;
}

export const KID_REFRESH_INTERVAL_MS = 10_000;
/** Keys not refreshed for this long are fetched again before use. */
const MAX_KEY_AGE_MS = 3600_000;

interface CachedKeys {
  /** What the keys were fetched from: a changed configuration starts afresh. */
  source: string;
  keys: Promise<JWK[]>;
  fetchedAt: number;
  /** When an unknown `kid` last caused a fetch (0: never). */
  kidRefreshAt: number;
}

/** By mount UUID. Bounded by the number of JWT mounts. */
const cache = new Map<string, CachedKeys>();

/** The keys a token of this mount may be verified with, refreshed when the token's `kid` is new. */
export async function verificationKeys(mountUuid: string, config: KeySource, token: string, now: number): Promise<JWK[]> {
  const source = JSON.stringify([config.jwt_validation_pubkeys, config.jwks_url, config.jwks_ca_pem, config.oidc_discovery_url, config.oidc_discovery_ca_pem]);
  let entry = cache.get(mountUuid);
  if (!entry || entry.source !== source || now - entry.fetchedAt > MAX_KEY_AGE_MS) {
    entry = { source, keys: load(config), fetchedAt: now, kidRefreshAt: 0 };
    cache.set(mountUuid, entry);
  }
  const current = entry;
  const keys = await current.keys.catch((error) => {
    if (cache.get(mountUuid) === current) cache.delete(mountUuid);
    throw error;
  });
  if (config.jwt_validation_pubkeys.length > 0) return keys;
  const { kid } = safeHeader(token);
  if (kid === undefined || keys.some((key) => key.kid === kid) || now - current.kidRefreshAt < KID_REFRESH_INTERVAL_MS) return keys;
  current.kidRefreshAt = now;
  current.keys = load(config);
  current.fetchedAt = now;
  return current.keys.catch(() => keys);
}

function safeHeader(token: string): { kid?: string } {
  try {
    return tokenHeader(token);
  } catch {
    return {};
  }
}

async function load(config: KeySource): Promise<JWK[]> {
  if (config.jwt_validation_pubkeys.length > 0) return Promise.all(config.jwt_validation_pubkeys.map((pem) => publicKeyFromPem(pem)));
  if (config.jwks_url !== "") return fetchJwks(config.jwks_url, config.jwks_ca_pem);
  const { jwks_uri } = await fetchDiscovery(config.oidc_discovery_url, config.oidc_discovery_ca_pem);
  return fetchJwks(jwks_uri, config.oidc_discovery_ca_pem);
}

/** The keys of a JWKS document (RFC 7517); keys of kinds that cannot sign are left out. */
export async function fetchJwks(url: string, caPem: string): Promise<JWK[]> {
  const document = await getJson(url, caPem);
  const keys = (document as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new Error('failed to decode keys: no "keys" array');
  return keys.filter((key): key is JWK => typeof key === "object" && key !== null && ["RSA", "EC", "OKP"].includes((key as JWK).kty ?? ""));
}

export interface DiscoveryDocument {
  jwks_uri: string;
  /** For the browser flow; empty when the provider publishes none. */
  authorization_endpoint: string;
  token_endpoint: string;
}

/** An OIDC discovery document, whose issuer must be the discovery URL itself (as go-oidc insists). */
export async function fetchDiscovery(issuer: string, caPem: string): Promise<DiscoveryDocument> {
  const document = (await getJson(`${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`, caPem)) as Record<string, unknown>;
  if (document.issuer !== issuer)
    throw new Error(`issuer did not match the returned issuer, expected ${JSON.stringify(issuer)} got ${JSON.stringify(document.issuer)}`);
  if (typeof document.jwks_uri !== "string" || document.jwks_uri === "") throw new Error("discovery document has no jwks_uri");
  const text = (name: string) => (typeof document[name] === "string" ? (document[name] as string) : "");
  return { jwks_uri: document.jwks_uri, authorization_endpoint: text("authorization_endpoint"), token_endpoint: text("token_endpoint") };
}

async function getJson(url: string, caPem: string): Promise<unknown> {
  const response = await outboundHttp({ method: "GET", url, headers: { accept: "application/json" }, caPem: caPem || undefined });
  if (response.status !== 200) throw new Error(`${url}: status ${response.status}`);
  const parsed: unknown = JSON.parse(response.body);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`${url}: not a JSON object`);
  return parsed;
}
