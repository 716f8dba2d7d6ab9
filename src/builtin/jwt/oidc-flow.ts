/**
 * The OIDC browser flow of `role_type = "oidc"` roles, as Vault runs it: `oidc/auth_url` answers the
 * provider's authorization URL (state, nonce, PKCE S256) for an allowed redirect URI; the provider
 * sends the browser back to `oidc/callback` with the state and a code, which is exchanged at the
 * provider's token endpoint (client secret + code verifier) for an ID token; that token's
 * signature, issuer, audience (the client ID) and nonce are checked before the role's claims rules.
 * Pending requests live in the active node's memory for 10 minutes, as in Vault.
 */
import { addressInBlocks, parseCidrList } from "../../sdk/cidr.js";
import type { AuthRequest, LoginGrant } from "../../sdk/auth.js";
import { randomBase62, toBase64 } from "../../sdk/encoding.js";
import { checkClaims, SIGNING_ALGORITHMS, TokenInvalid, verifiedClaims } from "../../sdk/jws.js";
import { canonicalName } from "../../sdk/names.js";
import { ROLE_NAME } from "../../sdk/role-endpoints.js";
import { outboundHttp } from "../../sdk/outbound-http.js";
import { LogicalError, permissionDenied } from "../../sdk/types.js";
import { type JwtConfig, readConfig } from "./config.js";
import { grantFor } from "./grant.js";
import { fetchDiscovery, verificationKeys } from "./keys.js";
import { readRole } from "./role.js";

const LOGIN_FAILED = "Vault login failed.";
const REQUEST_LIFETIME_MS = 10 * 60_000;
/** auth_url needs no token: bounds what anonymous callers can make the node remember. */
const MAX_PENDING_REQUESTS = 10_000;

interface PendingRequest {
  mountUuid: string;
  role: string;
  redirectUri: string;
  nonce: string;
  codeVerifier: string;
  clientNonce: string;
  expires: number;
}

/** By state, oldest first (a Map keeps insertion order). */
const pending = new Map<string, PendingRequest>();

/** `oidc/auth_url`: the provider URL to send the browser to; `auth_url: ""` where Vault gives one (a redirect URI the role does not allow). */
export async function authUrl({ storage, data, mount, now }: AuthRequest) {
  const config = await readConfig(storage);
  if (!config) throw new LogicalError(400, "could not load configuration");
  if (config.oidc_discovery_url === "" || config.oidc_client_id === "") throw new LogicalError(400, "OIDC login is not configured for this mount");
  const requested = typeof data.role === "string" && data.role !== "" ? data.role : config.default_role;
  if (requested === "") throw new LogicalError(400, "missing role");
  const redirectUri = typeof data.redirect_uri === "string" ? data.redirect_uri : "";
  if (redirectUri === "") throw new LogicalError(400, "missing redirect_uri");
  const roleName = canonicalName(requested, ROLE_NAME);
  const role = await readRole(storage, roleName);
  if (!role) throw new LogicalError(400, `role ${JSON.stringify(requested)} could not be found`);
  const empty = { data: { auth_url: "" } };
  if (!validRedirect(redirectUri, role.allowed_redirect_uris)) return empty;
  const discovery = await fetchDiscovery(config.oidc_discovery_url, config.oidc_discovery_ca_pem).catch(() => null);
  if (!discovery?.authorization_endpoint) return empty;

  const state = `st_${randomBase62(20)}`;
  const request: PendingRequest = {
    mountUuid: mount.uuid,
    role: roleName,
    redirectUri,
    nonce: `n_${randomBase62(20)}`,
    codeVerifier: randomBase62(64),
    clientNonce: typeof data.client_nonce === "string" ? data.client_nonce : "",
    expires: now + REQUEST_LIFETIME_MS,
  };
  remember(state, request, now);
  const url = new URL(discovery.authorization_endpoint);
  const query = url.searchParams;
  query.set("client_id", config.oidc_client_id);
  query.set("redirect_uri", redirectUri);
  query.set("response_type", "code");
  query.set("scope", ["openid", ...role.oidc_scopes.filter((scope) => scope !== "openid")].join(" "));
  query.set("state", state);
  query.set("nonce", request.nonce);
  query.set("code_challenge", await codeChallenge(request.codeVerifier));
  query.set("code_challenge_method", "S256");
  if (role.max_age > 0) query.set("max_age", String(role.max_age));
  return { data: { auth_url: url.toString() } };
}

/** `oidc/callback`: a login with the provider's code (or, with form_post, its ID token). */
export async function callback({ storage, data, mount, now, clientAddress }: AuthRequest): Promise<LoginGrant> {
  const config = await readConfig(storage);
  if (!config) throw new LogicalError(400, `${LOGIN_FAILED} Could not load configuration.`);
  const state = typeof data.state === "string" ? data.state : "";
  const request = pending.get(state);
  pending.delete(state);
  if (!request || request.mountUuid !== mount.uuid || request.expires <= now) throw new LogicalError(400, `${LOGIN_FAILED} Expired or missing OAuth state.`);
  if (request.clientNonce !== "" && data.client_nonce !== request.clientNonce) throw new LogicalError(400, "invalid client_nonce");
  const role = await readRole(storage, request.role);
  if (!role) throw new LogicalError(400, `${LOGIN_FAILED} Role could not be found`);
  if (role.token_bound_cidrs.length > 0 && !addressInBlocks(clientAddress, parseCidrList(role.token_bound_cidrs, "token_bound_cidrs"))) {
    throw permissionDenied();
  }
  const code = typeof data.code === "string" ? data.code : "";
  const directIdToken = typeof data.id_token === "string" ? data.id_token : "";
  if (code === "" && directIdToken === "") throw new LogicalError(400, `${LOGIN_FAILED} No code or id_token received.`);

  let claims: Record<string, unknown>;
  try {
    const idToken = code !== "" ? await exchange(config, request, code) : directIdToken;
    claims = await verifiedClaims(idToken, await verificationKeys(mount.uuid, config, idToken, now), "failed to verify id token signature");
    checkClaims(idToken, claims, {
      issuer: config.oidc_discovery_url,
      audiences: [config.oidc_client_id],
      algorithms: config.jwt_supported_algs.length > 0 ? config.jwt_supported_algs : SIGNING_ALGORITHMS,
      expirationLeeway: role.expiration_leeway,
      notBeforeLeeway: role.not_before_leeway,
      clockSkewLeeway: role.clock_skew_leeway,
      now,
    });
    if (claims.nonce !== request.nonce) throw new TokenInvalid("invalid id_token nonce");
    const tokenAudiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (role.bound_audiences.length > 0 && !role.bound_audiences.some((aud) => tokenAudiences.includes(aud))) {
      throw new TokenInvalid("invalid id_token audiences");
    }
  } catch (error) {
    if (error instanceof LogicalError) throw error;
    const reason =
      code !== "" ? `Error exchanging oidc code: ${JSON.stringify((error as Error).message)}.` : `Token verification failed. ${(error as Error).message}`;
    throw new LogicalError(400, code !== "" ? `${LOGIN_FAILED} ${reason}` : reason);
  }
  delete claims.nonce;
  if (role.bound_subject !== "" && claims.sub !== role.bound_subject) throw new LogicalError(400, "sub claim does not match bound subject");
  return grantFor(claims, request.role, role);
}

/** The authorization code for an ID token at the provider's token endpoint (client_secret_basic, PKCE). */
async function exchange(config: JwtConfig, request: PendingRequest, code: string): Promise<string> {
  const { token_endpoint } = await fetchDiscovery(config.oidc_discovery_url, config.oidc_discovery_ca_pem);
  if (token_endpoint === "") throw new Error("the provider publishes no token_endpoint");
  const credentials = `${encodeURIComponent(config.oidc_client_id)}:${encodeURIComponent(config.oidc_client_secret)}`;
  const response = await outboundHttp({
    method: "POST",
    url: token_endpoint,
    headers: {
      authorization: `Basic ${toBase64(new TextEncoder().encode(credentials))}`,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: request.redirectUri, code_verifier: request.codeVerifier }).toString(),
    caPem: config.oidc_discovery_ca_pem || undefined,
  });
  if (response.status !== 200) throw new Error(`oauth2: cannot fetch token: ${response.status}`);
  let idToken: unknown;
  try {
    idToken = (JSON.parse(response.body) as { id_token?: unknown }).id_token;
  } catch {
    throw new Error("oauth2: cannot parse json");
  }
  if (typeof idToken !== "string" || idToken === "") throw new Error("id_token is missing from auth code exchange");
  return idToken;
}

function remember(state: string, request: PendingRequest, now: number): void {
  for (const [key, entry] of pending) {
    if (entry.expires > now && pending.size < MAX_PENDING_REQUESTS) break;
    pending.delete(key);
  }
  pending.set(state, request);
}

async function codeChallenge(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return toBase64(digest).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Vault's validRedirect: an exact match, except that a loopback redirect may use any port. */
function validRedirect(uri: string, allowed: readonly string[]): boolean {
  let input: URL;
  try {
    input = new URL(uri);
  } catch {
    return false;
  }
  const loopback = (host: string) => host === "localhost" || host === "[::1]" || /^127\./.test(host);
  return allowed.some((candidate) => {
    if (candidate === uri) return true;
    if (!loopback(input.hostname)) return false;
    try {
      const allowedUrl = new URL(candidate);
      return (
        loopback(allowedUrl.hostname) &&
        allowedUrl.protocol === input.protocol &&
        allowedUrl.hostname === input.hostname &&
        allowedUrl.pathname === input.pathname &&
        allowedUrl.search === input.search
      );
    } catch {
      return false;
    }
  });
}
