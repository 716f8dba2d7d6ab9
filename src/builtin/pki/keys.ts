/**
 * Key pairs as the PKI engine keeps them: generated and used through WebCrypto, stored as PKCS#8,
 * and written out as Vault writes them (PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY", or PKCS#8
 * "PRIVATE KEY"). The ASN.1 rewrapping between those forms is done with @peculiar/asn1-*.
 */
import "reflect-metadata"; // @peculiar/x509 resolves its services through tsyringe, which needs it first.
import * as x509 from "@peculiar/x509";
import { ECParameters, ECPrivateKey, id_ecPublicKey } from "@peculiar/asn1-ecc";
import { PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { fromBase64, toBase64 } from "../../sdk/encoding.js";
import { pemBlocks, pemEncode } from "../../sdk/pem.js";
import { LogicalError } from "../../sdk/types.js";

export type KeyType = "rsa" | "ec" | "ed25519";

/** A private key in storage: PKCS#8, base64. */
export interface KeyMaterial {
  type: KeyType;
  /** RSA modulus bits or EC curve bits; 0 for ed25519. */
  bits: number;
  pkcs8: string;
}

const RSA_OID = "1.2.840.113549.1.1.1";
const ED25519_OID = "1.3.101.112";
const CURVES: Record<number, { name: string; oid: string; hash: string }> = {
  256: { name: "P-256", oid: "1.2.840.10045.3.1.7", hash: "SHA-256" },
  384: { name: "P-384", oid: "1.3.132.0.34", hash: "SHA-384" },
  521: { name: "P-521", oid: "1.3.132.0.35", hash: "SHA-512" },
};
const RSA_SIZES = new Set([2048, 3072, 4096, 8192]);

/** Vault's defaults for `key_bits` = 0. */
export function defaultKeyBits(type: KeyType): number {
  return type === "rsa" ? 2048 : type === "ec" ? 256 : 0;
}

/** `key_type` and `key_bits` as Vault checks them; returns the bits to use. "any" is for roles only. */
export function checkKeyParameters(keyType: string, keyBits: number, allowAny = false): number {
  switch (keyType) {
    case "rsa":
      if (keyBits === 0) return 2048;
      if (keyBits < 2048) throw new LogicalError(400, "RSA keys < 2048 bits are unsafe and not supported");
      if (!RSA_SIZES.has(keyBits)) throw new LogicalError(400, `unsupported bit length for RSA key: ${keyBits}`);
      return keyBits;
    case "ec":
      if (keyBits === 0) return 256;
      if (!CURVES[keyBits]) throw new LogicalError(400, `unsupported bit length for EC key: ${keyBits}`);
      return keyBits;
    case "ed25519":
      return 0;
    case "any":
      if (allowAny) return 0;
      break;
  }
  throw new LogicalError(400, `unknown key_type value "${keyType}"`);
}

export async function generateKey(type: KeyType, bits: number): Promise<KeyMaterial> {
  const algorithm =
    type === "rsa"
      ? { name: "RSASSA-PKCS1-v1_5", modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
      : type === "ec"
        ? { name: "ECDSA", namedCurve: CURVES[bits]!.name }
        : { name: "Ed25519" };
  const pair = (await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return { type, bits, pkcs8: toBase64(pkcs8) };
}

/** The WebCrypto signing algorithm for a key and Vault's `signature_bits` (0: Vault's default for the key). */
export function signingAlgorithm(key: Pick<KeyMaterial, "type" | "bits">, signatureBits = 0): Algorithm & { hash?: string } {
  if (key.type === "ed25519") return { name: "Ed25519" };
  if (key.type === "ec") return { name: "ECDSA", hash: signatureBits ? `SHA-${signatureBits}` : CURVES[key.bits]!.hash };
  return { name: "RSASSA-PKCS1-v1_5", hash: `SHA-${signatureBits || 256}` };
}

export interface UsableKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  algorithm: Algorithm;
}

/** The key ready to sign with `signature_bits` (an RSA key's hash is part of its WebCrypto import). */
export async function usableKey(key: KeyMaterial, signatureBits = 0): Promise<UsableKey> {
  const algorithm = signingAlgorithm(key, signatureBits);
  const importAlgorithm = key.type === "ec" ? { name: "ECDSA", namedCurve: CURVES[key.bits]!.name } : algorithm;
  const privateKey = await crypto.subtle.importKey("pkcs8", fromBase64(key.pkcs8), importAlgorithm, true, ["sign"]);
  // WebCrypto derives no public key from a private one; the JWK carries both halves.
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ...publicJwk } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey("jwk", publicJwk, importAlgorithm, true, ["verify"]);
  return { privateKey, publicKey, algorithm };
}

/** The SubjectPublicKeyInfo of a stored key, DER. */
export async function publicKeyDer(key: KeyMaterial): Promise<Uint8Array> {
  const { publicKey } = await usableKey(key);
  return new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
}

/** Vault's `private_key_type`. */
export function privateKeyType(key: KeyMaterial): string {
  return key.type;
}

/**
 * The private key as Vault returns it: `der` (its default) is PKCS#1 for RSA and SEC1 for EC,
 * `pkcs8` is PKCS#8; ed25519 is always PKCS#8. `asDer` gives base64 DER instead of PEM.
 */
export function exportPrivateKey(key: KeyMaterial, privateKeyFormat: string, asDer: boolean): string {
  const pkcs8 = fromBase64(key.pkcs8);
  let der = pkcs8;
  let label = "PRIVATE KEY";
  if (privateKeyFormat !== "pkcs8" && key.type !== "ed25519") {
    const info = AsnConvert.parse(pkcs8, PrivateKeyInfo);
    der = new Uint8Array(info.privateKey.buffer);
    label = "RSA PRIVATE KEY";
    if (key.type === "ec") {
      const sec1 = AsnConvert.parse(der, ECPrivateKey);
      sec1.parameters = new ECParameters({ namedCurve: CURVES[key.bits]!.oid });
      der = new Uint8Array(AsnConvert.serialize(sec1));
      label = "EC PRIVATE KEY";
    }
  }
  return asDer ? toBase64(der) : pemEncode(der, label);
}

/** A PEM private key (PKCS#1, SEC1 or PKCS#8) as stored key material; 400 when it is none of those. */
export async function importPrivateKey(pem: string): Promise<KeyMaterial> {
  const block = pemBlocks(pem).find((b) => b.label.endsWith("PRIVATE KEY"));
  if (!block) throw new LogicalError(400, "no private key found in the PEM bundle");
  let pkcs8: Uint8Array<ArrayBuffer>;
  let info: PrivateKeyInfo;
  try {
    pkcs8 = toPkcs8(block.label, block.der);
    info = AsnConvert.parse(pkcs8, PrivateKeyInfo);
  } catch {
    throw new LogicalError(400, "error parsing the private key: not a valid key");
  }
  const oid = info.privateKeyAlgorithm.algorithm;
  let material: KeyMaterial;
  if (oid === RSA_OID) {
    const imported = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["sign"]);
    material = { type: "rsa", bits: (imported.algorithm as RsaHashedKeyAlgorithm).modulusLength, pkcs8: toBase64(pkcs8) };
  } else if (oid === id_ecPublicKey) {
    const parameters = info.privateKeyAlgorithm.parameters;
    const curveOid = parameters ? AsnConvert.parse(parameters, ECParameters).namedCurve : undefined;
    const bits = Number(Object.keys(CURVES).find((b) => CURVES[Number(b)]!.oid === curveOid));
    if (!bits) throw new LogicalError(400, "unsupported elliptic curve in the private key");
    material = { type: "ec", bits, pkcs8: toBase64(pkcs8) };
  } else if (oid === ED25519_OID) {
    material = { type: "ed25519", bits: 0, pkcs8: toBase64(pkcs8) };
  } else {
    throw new LogicalError(400, `unsupported private key algorithm ${oid}`);
  }
  try {
    await usableKey(material); // refuses a malformed key now rather than at its first signature
  } catch {
    throw new LogicalError(400, "error parsing the private key: not a valid key");
  }
  return material;
}

function toPkcs8(label: string, der: Uint8Array): Uint8Array<ArrayBuffer> {
  if (label === "PRIVATE KEY") return new Uint8Array(der);
  if (label === "RSA PRIVATE KEY") {
    const algorithm = new AlgorithmIdentifier({ algorithm: RSA_OID, parameters: null });
    return new Uint8Array(AsnConvert.serialize(new PrivateKeyInfo({ privateKeyAlgorithm: algorithm, privateKey: new OctetString(der) })));
  }
  if (label === "EC PRIVATE KEY") {
    const sec1 = AsnConvert.parse(der, ECPrivateKey);
    const curve = sec1.parameters?.namedCurve;
    if (!curve) throw new Error("EC key without a named curve");
    const algorithm = new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters: AsnConvert.serialize(new ECParameters({ namedCurve: curve })) });
    return new Uint8Array(AsnConvert.serialize(new PrivateKeyInfo({ privateKeyAlgorithm: algorithm, privateKey: new OctetString(der) })));
  }
  throw new Error(`unsupported key label ${label}`);
}

/** The type and bits of a public key (a CSR's or certificate's), or 400 for one the engine cannot use. */
export function describePublicKey(publicKey: x509.PublicKey): Pick<KeyMaterial, "type" | "bits"> {
  const algorithm = publicKey.algorithm as Algorithm & { namedCurve?: string; modulusLength?: number };
  if (algorithm.name === "Ed25519") return { type: "ed25519", bits: 0 };
  if (algorithm.name === "ECDSA" || algorithm.name === "ECDH") {
    const bits = Number(Object.keys(CURVES).find((b) => CURVES[Number(b)]!.name === algorithm.namedCurve));
    if (!bits) throw new LogicalError(400, "could not parse CSR's public key");
    return { type: "ec", bits };
  }
  if (algorithm.name.startsWith("RSA")) {
    const bits = algorithm.modulusLength ?? 0;
    if (bits < 2048) throw new LogicalError(400, "RSA keys < 2048 bits are unsafe and not supported");
    return { type: "rsa", bits };
  }
  throw new LogicalError(400, `Unknown key type in CSR: ${algorithm.name}`);
}
