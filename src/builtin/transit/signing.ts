/**
 * Signatures with ECDSA, Ed25519 and RSA keys, in Vault's format (`vault:v<version>:` + base64, or
 * base64url for `marshaling_algorithm=jws`). WebCrypto signs wherever it has the algorithm; @noble
 * signs what it lacks: ECDSA over a digest the client hashed (or a hash WebCrypto does not have),
 * and Ed25519 on runtimes without it. RSA that WebCrypto cannot do (over a client's digest, or with
 * SHA-224 or SHA-3) goes to the runtime's hooks (platform-crypto.ts) where the adapter installs them.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { fromBase64, fromHex, toBase64 } from "../../sdk/encoding.js";
import { platformCrypto, type RsaSigningAnyHash } from "../../sdk/platform-crypto.js";
import { LogicalError } from "../../sdk/types.js";
import { decryptionVersion, encryptionVersion } from "./cipher.js";
import { fromBase64Url, splitVersioned, toBase64Url } from "./inputs.js";
import type { LoadedKey } from "./keyring.js";
import { ed25519Pkcs8, ed25519Spki, hasPrivateKey, pemBody } from "./material.js";
import { deriveKey, digest, digestLength, HASH_NAMES, type HashAlgorithm, WEBCRYPTO_HASH } from "./primitives.js";

export interface SignatureOptions {
  hash: HashAlgorithm | "none";
  prehashed: boolean;
  signatureAlgorithm: string;
  /** "auto" (the longest salt when signing, any when verifying), "hash" (the digest's length), or bytes. */
  saltLength: "auto" | "hash" | number;
  marshaling: "asn1" | "jws";
}

const NOBLE_CURVES = { "P-256": p256, "P-384": p384, "P-521": p521 } as const;

let webCryptoEd25519: Promise<boolean> | undefined;

/** Whether this runtime's WebCrypto signs with Ed25519 (Node 20 does; some edge runtimes do not). */
function hasWebCryptoEd25519(): Promise<boolean> {
  webCryptoEd25519 ??= crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]).then(
    () => true,
    () => false,
  );
  return webCryptoEd25519;
}

export async function sign(
  key: LoadedKey,
  requestedVersion: number,
  context: Uint8Array,
  input: Uint8Array,
  options: SignatureOptions,
): Promise<{ signature: string; version: number; publicKey?: Uint8Array }> {
  const version = encryptionVersion(key, requestedVersion, "signing");
  if (!hasPrivateKey(key.version(version))) throw new LogicalError(400, "requested version for signing does not contain a private part");
  const { raw, publicKey } = await signatureBytes(key, version, context, input, options);
  const encoded = options.marshaling === "jws" ? toBase64Url(raw) : toBase64(raw);
  return { signature: `vault:v${version}:${encoded}`, version, ...(publicKey ? { publicKey } : {}) };
}

/**
 * The signature itself, by an existing `version` that holds its private key (callers check both
 * their own way); `publicKey` is a derived Ed25519 key's.
 */
export async function signatureBytes(
  key: LoadedKey,
  version: number,
  context: Uint8Array,
  input: Uint8Array,
  options: SignatureOptions,
): Promise<{ raw: Uint8Array; publicKey?: Uint8Array }> {
  let raw: Uint8Array;
  let publicKey: Uint8Array | undefined;
  switch (key.info.kind) {
    case "ecdsa":
      raw = await signEcdsa(key, version, input, options);
      break;
    case "ed25519": {
      const seed = await ed25519Seed(key, version, context);
      if (key.policy.derived) publicKey = ed25519.getPublicKey(seed);
      raw = (await hasWebCryptoEd25519())
        ? new Uint8Array(await crypto.subtle.sign("Ed25519", await importEd25519Private(seed), input as BufferSource))
        : ed25519.sign(input, seed);
      break;
    }
    case "rsa": {
      if (options.prehashed) {
        raw = signRsaDigest(key, version, input, options);
        break;
      }
      const platform = platformRsaSigning(options);
      if (platform) {
        const saltLength = rsaPadding(options) === "pss" ? pssSaltLengths(key, options, "sign")[0] : undefined;
        raw = platform.signer.sign(fromBase64(key.version(version).private_key!), platform.hash, input, saltLength);
        break;
      }
      const { algorithm, hash } = rsaParameters(options);
      const privateKey = await key.prepared(`rsa-sign/${algorithm.name}/${hash}/${version}`, () =>
        crypto.subtle.importKey("pkcs8", fromBase64(key.version(version).private_key!) as BufferSource, { name: algorithm.name, hash }, false, ["sign"]),
      );
      const saltLength = pssSaltLengths(key, options, "sign")[0]!;
      raw = new Uint8Array(await crypto.subtle.sign({ ...algorithm, saltLength }, privateKey, input as BufferSource));
      break;
    }
    default:
      throw new LogicalError(400, `key type ${key.policy.type} does not support signing`);
  }
  return { raw, ...(publicKey ? { publicKey } : {}) };
}

export async function verify(key: LoadedKey, context: Uint8Array, input: Uint8Array, signature: string, options: SignatureOptions): Promise<boolean> {
  const split = splitVersioned(signature, "signature");
  const version = decryptionVersion(key, split.version, "signature");
  let raw: Uint8Array | null;
  try {
    raw = options.marshaling === "jws" ? fromBase64Url(split.payload) : fromBase64(split.payload);
  } catch {
    raw = null;
  }
  if (!raw) throw new LogicalError(400, "invalid base64 signature value");
  switch (key.info.kind) {
    case "ecdsa":
      return verifyEcdsa(key, version, input, raw, options);
    case "ed25519": {
      const publicKey = key.policy.derived ? ed25519.getPublicKey(await ed25519Seed(key, version, context)) : fromBase64(key.version(version).public_key!);
      if (!(await hasWebCryptoEd25519())) return ed25519.verify(raw, input, publicKey, { zip215: false });
      const imported = await crypto.subtle.importKey("spki", ed25519Spki(publicKey) as BufferSource, "Ed25519", false, ["verify"]);
      return crypto.subtle.verify("Ed25519", imported, raw as BufferSource, input as BufferSource);
    }
    case "rsa": {
      if (options.prehashed) return rsaDigestSigner(options).verify(pemBody(key.version(version).public_key!), digestInfo(input, options), raw);
      const platform = platformRsaSigning(options);
      if (platform) {
        const spki = pemBody(key.version(version).public_key!);
        if (rsaPadding(options) === "pkcs1v15") return platform.signer.verify(spki, platform.hash, input, raw);
        return pssSaltLengths(key, options, "verify").some((saltLength) => platform.signer.verify(spki, platform.hash, input, raw, saltLength));
      }
      const { algorithm, hash } = rsaParameters(options);
      const publicKey = await key.prepared(`rsa-verify/${algorithm.name}/${hash}/${version}`, () =>
        crypto.subtle.importKey("spki", pemBody(key.version(version).public_key!) as BufferSource, { name: algorithm.name, hash }, false, ["verify"]),
      );
      for (const saltLength of pssSaltLengths(key, options, "verify")) {
        if (await crypto.subtle.verify({ ...algorithm, saltLength }, publicKey, raw as BufferSource, input as BufferSource)) return true;
      }
      return false;
    }
    default:
      throw new LogicalError(400, `key type ${key.policy.type} does not support verification`);
  }
}

/** ECDSA r ‖ s (JWS) or DER (ASN.1), over `input` hashed with `hash` unless the client hashed it. */
async function signEcdsa(key: LoadedKey, version: number, input: Uint8Array, options: SignatureOptions): Promise<Uint8Array> {
  const curve = key.info.curve!;
  const webHash = options.prehashed || options.hash === "none" ? undefined : WEBCRYPTO_HASH[options.hash];
  let compact: Uint8Array;
  if (webHash) {
    const privateKey = await key.prepared(`ecdsa-sign/${version}`, () =>
      crypto.subtle.importKey("pkcs8", fromBase64(key.version(version).private_key!) as BufferSource, { name: "ECDSA", namedCurve: curve.name }, false, [
        "sign",
      ]),
    );
    compact = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: webHash }, privateKey, input as BufferSource));
  } else {
    const hashed = options.prehashed ? input : await digest(options.hash as HashAlgorithm, input);
    const scalar = await key.prepared(`ecdsa-scalar/${version}`, () => ecdsaScalar(key, version));
    compact = NOBLE_CURVES[curve.name].sign(hashed, scalar, { prehash: false, lowS: false });
  }
  return options.marshaling === "jws" ? compact : NOBLE_CURVES[curve.name].Signature.fromBytes(compact, "compact").toBytes("der");
}

async function verifyEcdsa(key: LoadedKey, version: number, input: Uint8Array, raw: Uint8Array, options: SignatureOptions): Promise<boolean> {
  const curve = key.info.curve!;
  const noble = NOBLE_CURVES[curve.name];
  let compact: Uint8Array;
  try {
    compact = options.marshaling === "jws" ? raw : noble.Signature.fromBytes(raw, "der").toBytes("compact");
  } catch {
    throw new LogicalError(400, "supplied signature is invalid");
  }
  if (compact.length !== 2 * curve.bytes) return false;
  const publicDer = pemBody(key.version(version).public_key!);
  const webHash = options.prehashed || options.hash === "none" ? undefined : WEBCRYPTO_HASH[options.hash];
  if (webHash) {
    const publicKey = await key.prepared(`ecdsa-verify/${version}`, () =>
      crypto.subtle.importKey("spki", publicDer as BufferSource, { name: "ECDSA", namedCurve: curve.name }, false, ["verify"]),
    );
    return crypto.subtle.verify({ name: "ECDSA", hash: webHash }, publicKey, compact as BufferSource, input as BufferSource);
  }
  const hashed = options.prehashed ? input : await digest(options.hash as HashAlgorithm, input);
  const point = publicDer.subarray(publicDer.length - (1 + 2 * curve.bytes));
  return noble.verify(compact, hashed, point, { prehash: false, lowS: false });
}

/** The private scalar of an ECDSA version, for @noble (WebCrypto hands it out as a JWK's `d`). */
async function ecdsaScalar(key: LoadedKey, version: number): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey(
    "pkcs8",
    fromBase64(key.version(version).private_key!) as BufferSource,
    { name: "ECDSA", namedCurve: key.info.curve!.name },
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", imported);
  return fromBase64Url(jwk.d!)!;
}

/** The Ed25519 seed: the stored key's first half, or HKDF of the whole stored key under `context` (as Vault derives). */
async function ed25519Seed(key: LoadedKey, version: number, context: Uint8Array): Promise<Uint8Array> {
  const stored = fromBase64(key.version(version).key!);
  if (!key.policy.derived) return stored.subarray(0, 32);
  if (context.length === 0) {
    throw new LogicalError(
      400,
      "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
    );
  }
  return deriveKey(stored, context, 32);
}

function importEd25519Private(seed: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", ed25519Pkcs8(seed) as BufferSource, "Ed25519", false, ["sign"]);
}

/**
 * The DigestInfo prefix of each hash RSASSA-PKCS1-v1_5 signs a digest of (RFC 8017 §9.2, note 1):
 * the DER of the digest's algorithm and the header of its octet string, which the digest completes.
 */
const DIGEST_INFO_PREFIXES: Partial<Record<HashAlgorithm, Uint8Array>> = {
  sha1: fromHex("3021300906052b0e03021a05000414"),
  "sha2-224": fromHex("302d300d06096086480165030402040500041c"),
  "sha2-256": fromHex("3031300d060960864801650304020105000420"),
  "sha2-384": fromHex("3041300d060960864801650304020205000430"),
  "sha2-512": fromHex("3051300d060960864801650304020305000440"),
};

/** A prehashed RSA signature, PKCS #1 v1.5 over the client's digest, as Go's SignPKCS1v15 makes it. */
function signRsaDigest(key: LoadedKey, version: number, input: Uint8Array, options: SignatureOptions): Uint8Array {
  const signer = rsaDigestSigner(options);
  const encoded = digestInfo(input, options);
  try {
    return signer.sign(fromBase64(key.version(version).private_key!), encoded);
  } catch {
    throw new LogicalError(400, "crypto/rsa: message too long for RSA key size");
  }
}

function rsaDigestSigner(options: SignatureOptions) {
  // PSS over a given digest needs raw RSA with PSS encoding, which neither WebCrypto nor the runtime hook offers.
  if ((options.signatureAlgorithm || "pss") !== "pkcs1v15") {
    throw new LogicalError(400, "prehashed input is supported for RSA keys only with signature_algorithm=pkcs1v15");
  }
  const signer = platformCrypto().rsaDigest;
  if (!signer) throw new LogicalError(400, "prehashed input is not supported for RSA keys by this runtime");
  return signer;
}

/** The bytes PKCS #1 v1.5 signs for a client's digest: its DigestInfo, or the input as given for hash_algorithm=none. */
function digestInfo(input: Uint8Array, options: SignatureOptions): Uint8Array {
  if (options.hash === "none") return input;
  const prefix = DIGEST_INFO_PREFIXES[options.hash];
  if (!prefix) throw new LogicalError(400, `hash algorithm ${options.hash} is not supported for RSA keys`);
  if (input.length !== digestLength(options.hash)) throw new LogicalError(400, "crypto/rsa: input must be hashed message");
  const encoded = new Uint8Array(prefix.length + input.length);
  encoded.set(prefix);
  encoded.set(input, prefix.length);
  return encoded;
}

function rsaParameters(options: SignatureOptions): { algorithm: { name: string }; hash: string } {
  // WebCrypto signs only what it hashes itself, with the SHA-1 and SHA-2 family (SHA-224 aside).
  const hash = options.hash === "none" ? undefined : WEBCRYPTO_HASH[options.hash];
  if (!hash) throw new LogicalError(400, `hash algorithm ${options.hash} is not supported for RSA keys`);
  return { algorithm: { name: rsaPadding(options) === "pss" ? "RSA-PSS" : "RSASSA-PKCS1-v1_5" }, hash };
}

function rsaPadding(options: SignatureOptions): "pss" | "pkcs1v15" {
  const padding = options.signatureAlgorithm || "pss";
  if (padding !== "pss" && padding !== "pkcs1v15") throw new LogicalError(400, `unsupported rsa signature algorithm ${options.signatureAlgorithm}`);
  return padding;
}

/** The runtime's RSA signer and the hash's name for it, where WebCrypto lacks the hash (SHA-224, SHA-3); else null. */
function platformRsaSigning(options: SignatureOptions): { signer: RsaSigningAnyHash; hash: string } | null {
  if (options.hash === "none" || WEBCRYPTO_HASH[options.hash]) return null;
  const signer = platformCrypto().rsaSigning;
  return signer ? { signer, hash: HASH_NAMES[options.hash] } : null;
}

/** PSS salt lengths to use: one to sign; for verifying "auto", the two any signer uses (longest, digest-sized). */
function pssSaltLengths(key: LoadedKey, options: SignatureOptions, use: "sign" | "verify"): number[] {
  if ((options.signatureAlgorithm || "pss") !== "pss") return [0];
  const hashLength = digestLength(options.hash as HashAlgorithm);
  const longest = Math.ceil((key.info.modulusBits! - 1) / 8) - 2 - hashLength;
  if (options.saltLength === "hash") return [hashLength];
  if (options.saltLength === "auto") return use === "sign" ? [longest] : [longest, hashLength];
  if (options.saltLength > longest) throw new LogicalError(400, `requested salt length ${options.saltLength} is invalid`);
  return [options.saltLength];
}
