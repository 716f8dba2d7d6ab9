/**
 * Key material from outside, as Vault's import reads it: raw bytes for AEAD and HMAC keys, PKCS #8
 * for a private asymmetric key, a PEM SubjectPublicKeyInfo for a public key alone. A version made
 * from a public key verifies (and, for RSA, encrypts) until its private key is imported into it.
 * Refusals are Vault's, naming what was found as Go's types do (`*ecdsa.PublicKey`).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ECParameters } from "@peculiar/asn1-ecc";
import { PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { rfc3339, toBase64 } from "../../sdk/encoding.js";
import { pemBlocks } from "../../sdk/pem.js";
import { LogicalError } from "../../sdk/types.js";
import { concat, HMAC_MAX_KEY_BYTES, HMAC_MIN_KEY_BYTES, KEY_TYPES, type KeyTypeInfo, type KeyVersion, pem } from "./material.js";
import { randomBytes } from "./primitives.js";

const RSA_OID = "1.2.840.113549.1.1.1";
const EC_OID = "1.2.840.10045.2.1";
const ED25519_OID = "1.3.101.112";
const ED25519_KEY_BYTES = 32;

type AsymmetricKind = "rsa" | "ecdsa" | "ed25519";
/** Which half of a key pair was given, as Go's type names end. */
type Half = "PrivateKey" | "PublicKey";

/** The key kind an algorithm OID names, or undefined for any other. */
export function kindOf(oid: string): AsymmetricKind | undefined {
  return oid === RSA_OID ? "rsa" : oid === EC_OID ? "ecdsa" : oid === ED25519_OID ? "ed25519" : undefined;
}

/** Whether Vault imports a public key alone for this type. */
export function importsPublicKey(type: string): boolean {
  const kind = KEY_TYPES[type]?.kind;
  return kind === "rsa" || kind === "ecdsa" || kind === "ed25519";
}

/** A new version of `type` made of imported private (or symmetric) material. */
export async function privateVersion(type: string, material: Uint8Array): Promise<KeyVersion> {
  const info = KEY_TYPES[type]!;
  const version = freshVersion();
  switch (info.kind) {
    case "aead":
      if (material.length !== info.keyBytes) throw new LogicalError(400, `invalid key size ${material.length} bytes for key type ${type}`);
      version.key = toBase64(material);
      return version;
    case "hmac":
      if (material.length < HMAC_MIN_KEY_BYTES || material.length > HMAC_MAX_KEY_BYTES) {
        throw new LogicalError(400, `invalid key size ${material.length} bytes for key type ${type}`);
      }
      version.key = version.hmac_key = toBase64(material);
      return version;
    default:
      return { ...version, ...(await privateParts(type, material)) };
  }
}

/** A new version of `type` holding only the public key in `text` (PEM). */
export async function publicVersion(type: string, text: string): Promise<KeyVersion> {
  const info = KEY_TYPES[type]!;
  const der = pemBlock(text);
  if (!der) throw new LogicalError(400, "error parsing public key: not in PEM format");
  let spki: SubjectPublicKeyInfo;
  try {
    spki = AsnConvert.parse(der, SubjectPublicKeyInfo);
  } catch {
    throw new LogicalError(400, "error parsing public key: x509: malformed SubjectPublicKeyInfo");
  }
  const kind = checkedKind(type, spki.algorithm, "PublicKey", {
    algorithm: "error parsing public key: x509: unknown public key algorithm",
    curve: "error parsing public key: x509: unsupported elliptic curve",
  });
  const version = freshVersion();
  if (kind === "ed25519") {
    const raw = new Uint8Array(spki.subjectPublicKey);
    if (raw.length !== ED25519_KEY_BYTES) throw new LogicalError(400, "error parsing public key: x509: wrong Ed25519 public key size");
    version.public_key = toBase64(raw);
    return version;
  }
  let publicKey: CryptoKey;
  try {
    publicKey = await crypto.subtle.importKey("spki", der as BufferSource, webCryptoAlgorithm(info), true, ["verify"]);
  } catch {
    throw new LogicalError(
      400,
      `error parsing public key: ${kind === "rsa" ? "x509: invalid RSA public key" : "x509: failed to unmarshal elliptic curve point"}`,
    );
  }
  requireModulus(info, publicKey);
  version.public_key = pem("PUBLIC KEY", new Uint8Array(await crypto.subtle.exportKey("spki", publicKey)));
  return version;
}

/** `version` (made from a public key) completed with its private key, which must be the other half of that key. */
export async function completedVersion(type: string, version: KeyVersion, material: Uint8Array): Promise<KeyVersion> {
  const parts = await privateParts(type, material);
  if (parts.public_key !== version.public_key) throw new LogicalError(400, "cannot import key, key pair does not match");
  return { ...version, ...parts };
}

function freshVersion(): KeyVersion {
  return { hmac_key: toBase64(randomBytes(32)), creation_time: rfc3339(new Date()) };
}

/** The stored fields of an asymmetric private key given as PKCS #8, checked against `type`. */
async function privateParts(type: string, material: Uint8Array): Promise<Pick<KeyVersion, "key" | "private_key" | "public_key">> {
  const info = KEY_TYPES[type]!;
  let pkcs8: PrivateKeyInfo;
  try {
    pkcs8 = AsnConvert.parse(material, PrivateKeyInfo);
  } catch {
    throw new LogicalError(400, "error parsing asymmetric key: x509: not a PKCS #8 private key");
  }
  const kind = checkedKind(type, pkcs8.privateKeyAlgorithm, "PrivateKey", {
    algorithm: `error parsing asymmetric key: x509: PKCS#8 wrapping contained private key with unknown algorithm: ${pkcs8.privateKeyAlgorithm.algorithm}`,
    curve: "error parsing asymmetric key: x509: unknown elliptic curve",
  });
  if (kind === "ed25519") {
    const seed = ed25519Seed(pkcs8);
    const publicKey = ed25519.getPublicKey(seed);
    return { key: toBase64(concat(seed, publicKey)), public_key: toBase64(publicKey) };
  }
  const algorithm = webCryptoAlgorithm(info);
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", material as BufferSource, algorithm, true, ["sign"]);
  } catch {
    throw new LogicalError(400, `error parsing asymmetric key: x509: failed to parse ${kind === "rsa" ? "RSA" : "EC"} private key embedded in PKCS#8`);
  }
  requireModulus(info, privateKey);
  // The public half, from the private key's JWK without its private fields.
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey("jwk", { ...publicJwk, key_ops: ["verify"] }, algorithm, true, ["verify"]);
  return {
    private_key: toBase64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey))),
    public_key: pem("PUBLIC KEY", new Uint8Array(await crypto.subtle.exportKey("spki", publicKey))),
  };
}

/**
 * The kind of key `algorithm` names, once Vault's checks pass: an algorithm and curve Go knows
 * (refused with the texts in `unknown`, which differ by half), of the key's type and curve (naming
 * what was found as Go does).
 */
function checkedKind(
  type: string,
  algorithm: { algorithm: string; parameters?: ArrayBuffer | null },
  half: Half,
  unknown: { algorithm: string; curve: string },
): AsymmetricKind {
  const info = KEY_TYPES[type]!;
  const kind = kindOf(algorithm.algorithm);
  if (!kind) throw new LogicalError(400, unknown.algorithm);
  const curveOid = kind === "ecdsa" ? namedCurve(algorithm.parameters) : undefined;
  if (kind === "ecdsa" && !knownCurve(curveOid)) throw new LogicalError(400, unknown.curve);
  if (kind !== info.kind) {
    const found = kind === "ed25519" ? `ed25519.${half}` : `*${kind}.${half}`;
    throw new LogicalError(400, `invalid key type: expected ${type}, got ${found}`);
  }
  if (kind === "ecdsa" && curveOid !== info.curve!.oid) {
    throw new LogicalError(400, `invalid curve: expected ${info.curve!.goName}, got ${curveName(curveOid)}`);
  }
  return kind;
}

/** Vault compares RSA sizes in bytes: a 2047-bit modulus is an rsa-2048 key. */
function requireModulus(info: KeyTypeInfo, key: CryptoKey): void {
  if (info.kind !== "rsa") return;
  const bytes = Math.ceil((key.algorithm as RsaHashedKeyAlgorithm).modulusLength / 8);
  const expected = info.modulusBits! / 8;
  if (bytes !== expected) throw new LogicalError(400, `invalid key size: expected ${expected} bytes, got ${bytes} bytes`);
}

function webCryptoAlgorithm(info: KeyTypeInfo): RsaHashedImportParams | EcKeyImportParams {
  return info.kind === "ecdsa" ? { name: "ECDSA", namedCurve: info.curve!.name } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
}

function namedCurve(parameters: ArrayBuffer | null | undefined): string | undefined {
  if (!parameters) return undefined;
  try {
    return AsnConvert.parse(parameters, ECParameters).namedCurve;
  } catch {
    return undefined;
  }
}

function knownCurve(oid: string | undefined): boolean {
  return Object.values(KEY_TYPES).some((info) => info.curve?.oid === oid);
}

function curveName(oid: string | undefined): string {
  return Object.values(KEY_TYPES).find((info) => info.curve?.oid === oid)!.curve!.goName;
}

/** The 32-byte seed inside an Ed25519 PKCS #8 key (RFC 8410: an OCTET STRING inside the OCTET STRING). */
function ed25519Seed(pkcs8: PrivateKeyInfo): Uint8Array {
  try {
    const seed = new Uint8Array(AsnConvert.parse(pkcs8.privateKey.buffer, OctetString).buffer);
    if (seed.length === ED25519_KEY_BYTES) return seed;
  } catch {
    // Reported below, as a seed of the wrong size is.
  }
  throw new LogicalError(400, "error parsing asymmetric key: x509: invalid Ed25519 private key");
}

/** The DER of the first PEM block in `text`, or null (none, or an empty one). */
function pemBlock(text: string): Uint8Array | null {
  const der = pemBlocks(text)[0]?.der;
  return der?.length ? der : null;
}
