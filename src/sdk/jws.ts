/**
 * Signed JWTs as Vault's JWT and Kubernetes auth methods check them (through hashicorp/cap):
 * signature by `jose` against public keys only (asymmetric algorithms; `none` and HMAC never
 * verify), then the registered claims with Vault's leeways and error texts.
 */
import { compactVerify, decodeProtectedHeader, exportJWK, importJWK, importSPKI, importX509, type JWK } from "jose";

/** Every algorithm Vault's JWT method can verify, in its order (the default `jwt_supported_algs`). */
export const SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"] as const;

/** A token Vault would refuse; the message is cap's text, which Vault passes on. */
export class TokenInvalid extends Error {
  override name = "TokenInvalid";
}

const IMPORT_ALGORITHMS = ["RS256", "ES256", "ES384", "ES512", "EdDSA"];

/** A PEM public key (SPKI) or certificate as a JWK; cap's error when it holds neither. */
export async function publicKeyFromPem(pem: string): Promise<JWK> {
  const text = pem.trim();
  const isCertificate = text.includes("-----BEGIN CERTIFICATE-----");
  if (!isCertificate && !text.includes("-----BEGIN PUBLIC KEY-----")) throw new TokenInvalid("data does not contain any valid RSA or ECDSA public keys");
  for (const alg of IMPORT_ALGORITHMS) {
    try {
      const key = isCertificate ? await importX509(text, alg, { extractable: true }) : await importSPKI(text, alg, { extractable: true });
      return await exportJWK(key);
    } catch {
      // Not this key type: try the next.
    }
  }
  throw new TokenInvalid("data does not contain any valid RSA or ECDSA public keys");
}

/** The token's protected header; cap's parse error when the token is no compact JWS. */
export function tokenHeader(token: string): { alg: string; kid?: string } {
  if (token.split(".").length !== 3) throw new TokenInvalid("error parsing token: compact JWS format must have three parts");
  try {
    const header = decodeProtectedHeader(token);
    return { alg: typeof header.alg === "string" ? header.alg : "", kid: typeof header.kid === "string" && header.kid !== "" ? header.kid : undefined };
  } catch (error) {
    throw new TokenInvalid(`error parsing token: ${(error as Error).message}`);
  }
}

/** Whether `key` can verify `alg` (and is not marked for another use or algorithm). */
export function keyFits(key: JWK, alg: string): boolean {
  if ((key.use !== undefined && key.use !== "sig") || (key.alg !== undefined && key.alg !== alg)) return false;
  if (alg.startsWith("RS") || alg.startsWith("PS")) return key.kty === "RSA";
  if (alg === "ES256") return key.kty === "EC" && key.crv === "P-256";
  if (alg === "ES384") return key.kty === "EC" && key.crv === "P-384";
  if (alg === "ES512") return key.kty === "EC" && key.crv === "P-521";
  if (alg === "EdDSA") return key.kty === "OKP" && key.crv === "Ed25519";
  return false;
}

/**
 * The claims of `token` if one of `keys` verifies its signature (a key with a `kid` only for a
 * token naming that `kid`); otherwise `failure` as the reason.
 */
export async function verifiedClaims(token: string, keys: readonly JWK[], failure: string): Promise<Record<string, unknown>> {
  const { alg, kid } = tokenHeader(token);
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) throw new TokenInvalid(`error verifying token signature: ${failure}`);
  for (const key of keys) {
    if (!keyFits(key, alg) || (kid !== undefined && key.kid !== undefined && key.kid !== kid)) continue;
    try {
      const { payload } = await compactVerify(token, await imported(key, alg), { algorithms: [alg] });
      return claimsOf(payload);
    } catch (error) {
      if (error instanceof TokenInvalid) throw error;
    }
  }
  throw new TokenInvalid(`error verifying token signature: ${failure}`);
}

/** The claims of `token` without checking its signature (Kubernetes without `pem_keys`: the TokenReview vouches). */
export function unverifiedClaims(token: string, algorithms: readonly string[]): Record<string, unknown> {
  const { alg } = tokenHeader(token);
  if (!algorithms.includes(alg)) throw new TokenInvalid(`error parsing token: unexpected signature algorithm "${alg}"`);
  const payload = token.split(".")[1]!;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(payload.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  } catch {
    throw new TokenInvalid("error parsing token: illegal base64 data");
  }
  return claimsOf(bytes);
}

/** Imported keys by JWK object: a mount's cached key set is imported once, not on every login. */
const importedKeys = new WeakMap<JWK, Map<string, Promise<CryptoKey | Uint8Array>>>();

function imported(key: JWK, alg: string): Promise<CryptoKey | Uint8Array> {
  let byAlg = importedKeys.get(key);
  if (!byAlg) importedKeys.set(key, (byAlg = new Map()));
  let importing = byAlg.get(alg);
  if (!importing) byAlg.set(alg, (importing = importJWK(key, alg)));
  return importing;
}

function claimsOf(payload: Uint8Array): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new TokenInvalid("error parsing token: claims are not valid JSON");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) throw new TokenInvalid("error parsing token: claims are not a JSON object");
  return claims as Record<string, unknown>;
}

export interface ExpectedClaims {
  issuer?: string;
  subject?: string;
  /** The token's `aud` must hold one of these (when any are given). */
  audiences?: readonly string[];
  /** Algorithms the signature may use (the token's `alg`); empty means RS256 only, as cap. */
  algorithms: readonly string[];
  /** Seconds: 0 takes cap's default (150, 150, 60), a negative value means none. */
  expirationLeeway: number;
  notBeforeLeeway: number;
  clockSkewLeeway: number;
  /** Epoch milliseconds. */
  now: number;
  /** Kubernetes' legacy service account tokens carry no times at all. */
  allowMissingTimes?: boolean;
}

const REGISTERED_CLAIMS = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];
const DEFAULT_LEEWAY_SECONDS = 150;
const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/** cap's checks of the registered claims of a verified token, in its order and with its texts. */
export function checkClaims(token: string, claims: Record<string, unknown>, expected: ExpectedClaims): void {
  for (const key of Object.keys(claims)) {
    const collides = REGISTERED_CLAIMS.find((name) => name !== key && name === key.toLowerCase());
    if (collides)
      throw new TokenInvalid(`ambiguous claim: key ${JSON.stringify(key)} collides with registered claim ${JSON.stringify(collides)} under case folding`);
  }
  const algorithms = expected.algorithms.length > 0 ? expected.algorithms : ["RS256"];
  if (!algorithms.includes(tokenHeader(token).alg)) throw new TokenInvalid("invalid algorithm (alg) header parameter: token signed with unexpected algorithm");
  if (expected.issuer && claims.iss !== expected.issuer) throw new TokenInvalid("invalid issuer (iss) claim");
  if (expected.subject && claims.sub !== expected.subject) throw new TokenInvalid("invalid subject (sub) claim");
  if (expected.audiences && expected.audiences.length > 0 && !audiences(claims).some((aud) => expected.audiences!.includes(aud))) {
    throw new TokenInvalid("invalid audience (aud) claim: audience claim does not match any expected audience");
  }
  const iat = numericDate(claims, "iat", "issued at");
  let exp = numericDate(claims, "exp", "expiration time");
  let nbf = numericDate(claims, "nbf", "not before");
  if (iat === 0 && exp === 0 && nbf === 0) {
    if (expected.allowMissingTimes) return;
    throw new TokenInvalid("no issued at (iat), not before (nbf), or expiration time (exp) claims in token");
  }
  if (exp === 0) exp = Math.max(iat, nbf) + leeway(expected.expirationLeeway, DEFAULT_LEEWAY_SECONDS);
  if (nbf === 0) nbf = iat !== 0 ? iat : exp - leeway(expected.notBeforeLeeway, DEFAULT_LEEWAY_SECONDS);
  const skew = leeway(expected.clockSkewLeeway, DEFAULT_CLOCK_SKEW_SECONDS) * 1000;
  if (expected.now + skew < nbf * 1000) throw new TokenInvalid("invalid not before (nbf) claim: token not yet valid");
  if (expected.now - skew > exp * 1000) throw new TokenInvalid("invalid expiration time (exp) claim: token is expired");
  if (expected.now + skew < iat * 1000) throw new TokenInvalid("invalid issued at (iat) claim: token issued in the future");
}

/** The `aud` claim as a list (RFC 7519 lets it be one string). */
export function audiences(claims: Record<string, unknown>): string[] {
  const aud = claims.aud;
  if (typeof aud === "string") return aud === "" ? [] : [aud];
  return Array.isArray(aud) ? aud.filter((item): item is string => typeof item === "string") : [];
}

function leeway(seconds: number, fallback: number): number {
  return seconds < 0 ? 0 : seconds === 0 ? fallback : seconds;
}

/** A NumericDate claim in whole seconds (0 when absent), as go-jose reads it. */
function numericDate(claims: Record<string, unknown>, name: string, label: string): number {
  const value = claims[name];
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isFinite(value)) throw new TokenInvalid(`invalid ${label} (${name}) claim: not a number`);
  return Math.trunc(value);
}
