/**
 * Key types and key material: what each type can do, how a new version is generated, how it is
 * stored (inside the barrier, in the mount's storage) and how it is exported in Vault's formats.
 */
import { ECParameters, ECPrivateKey } from "@peculiar/asn1-ecc";
import { PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { AsnConvert } from "@peculiar/asn1-schema";
import { ed25519 } from "@noble/curves/ed25519.js";
import { fromBase64, rfc3339, toBase64 } from "../../sdk/encoding.js";
import { pemBlocks, pemEncode } from "../../sdk/pem.js";
import { LogicalError } from "../../sdk/types.js";
import { randomBytes } from "./primitives.js";

export type KeyKind = "aead" | "hmac" | "ed25519" | "ecdsa" | "rsa";

export interface KeyTypeInfo {
  kind: KeyKind;
  /** AEAD key length in bytes. */
  keyBytes?: number;
  /** WebCrypto's curve name, its OID and the scalar length. */
  curve?: { name: "P-256" | "P-384" | "P-521"; oid: string; goName: string; bytes: number };
  modulusBits?: number;
}

export const KEY_TYPES: Record<string, KeyTypeInfo> = {
  "aes128-gcm96": { kind: "aead", keyBytes: 16 },
  "aes256-gcm96": { kind: "aead", keyBytes: 32 },
  "chacha20-poly1305": { kind: "aead", keyBytes: 32 },
  ed25519: { kind: "ed25519" },
  "ecdsa-p256": { kind: "ecdsa", curve: { name: "P-256", oid: "1.2.840.10045.3.1.7", goName: "P-256", bytes: 32 } },
  "ecdsa-p384": { kind: "ecdsa", curve: { name: "P-384", oid: "1.3.132.0.34", goName: "P-384", bytes: 48 } },
  "ecdsa-p521": { kind: "ecdsa", curve: { name: "P-521", oid: "1.3.132.0.35", goName: "P-521", bytes: 66 } },
  "rsa-2048": { kind: "rsa", modulusBits: 2048 },
  "rsa-3072": { kind: "rsa", modulusBits: 3072 },
  "rsa-4096": { kind: "rsa", modulusBits: 4096 },
  hmac: { kind: "hmac" },
};

export const supportsEncryption = (info: KeyTypeInfo) => info.kind === "aead" || info.kind === "rsa";
export const supportsSigning = (info: KeyTypeInfo) => info.kind === "ecdsa" || info.kind === "ed25519" || info.kind === "rsa";
export const supportsDerivation = (info: KeyTypeInfo) => info.kind === "aead" || info.kind === "ed25519";

export const HMAC_MIN_KEY_BYTES = 32;
export const HMAC_MAX_KEY_BYTES = 512;
/** The convergent scheme new versions use: the nonce is an HMAC of the plaintext under a derived key. */
export const CONVERGENT_VERSION = 3;

/** One version of a key as stored. Byte strings are base64. */
export interface KeyVersion {
  /** AEAD or HMAC key; Ed25519's 64-byte private key (seed ‖ public key), as Go holds it. */
  key?: string;
  /** Every version has one, for `hmac/` (for type hmac it is `key`). */
  hmac_key: string;
  /** ECDSA and RSA: the private key, PKCS #8 DER. Absent (as `key` is for Ed25519) in a version imported as a public key. */
  private_key?: string;
  /** ECDSA and RSA: PEM SubjectPublicKeyInfo; Ed25519: the raw public key. */
  public_key?: string;
  /** RFC 3339. */
  creation_time: string;
  convergent_version?: number;
  /** Signing types: the certificates `set-certificate` stored for this version, base64 DER, leaf first. */
  certificate_chain?: string[];
}

/** Whether a version can sign and decrypt: false for one imported as a public key alone. */
export function hasPrivateKey(version: KeyVersion): boolean {
  return version.key !== undefined || version.private_key !== undefined;
}

export async function generateVersion(type: string, keySize: number, convergent: boolean, now: Date): Promise<KeyVersion> {
  const info = KEY_TYPES[type]!;
  const version: KeyVersion = { hmac_key: toBase64(randomBytes(32)), creation_time: rfc3339(now) };
  if (convergent) version.convergent_version = CONVERGENT_VERSION;
  switch (info.kind) {
    case "aead":
      version.key = toBase64(randomBytes(info.keyBytes!));
      break;
    case "hmac":
      version.key = version.hmac_key = toBase64(randomBytes(keySize));
      break;
    case "ed25519": {
      const seed = randomBytes(32);
      const publicKey = ed25519.getPublicKey(seed);
      version.key = toBase64(concat(seed, publicKey));
      version.public_key = toBase64(publicKey);
      break;
    }
    case "ecdsa":
    case "rsa": {
      const algorithm =
        info.kind === "ecdsa"
          ? { name: "ECDSA", namedCurve: info.curve!.name }
          : { name: "RSASSA-PKCS1-v1_5", modulusLength: info.modulusBits!, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
      const pair = (await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
      version.private_key = toBase64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)));
      version.public_key = pem("PUBLIC KEY", new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey)));
      break;
    }
  }
  return version;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** PEM as Go's pem.EncodeToMemory writes it: 64-character lines and a final newline. */
export function pem(label: string, der: Uint8Array): string {
  return `${pemEncode(der, label)}\n`;
}

/** The DER inside the first PEM block of `text` (a stored public key, written by {@link pem}). */
export function pemBody(text: string): Uint8Array {
  const block = pemBlocks(text)[0];
  if (!block) throw new Error("a stored public key is not PEM");
  return block.der;
}

export const EXPORT_TYPES = ["encryption-key", "signing-key", "hmac-key", "public-key", "certificate-chain"] as const;
export type ExportType = (typeof EXPORT_TYPES)[number];

/** A version's key in the form Vault's `export/` returns for `exportType` and `format` ("", raw, der, pem). */
export function exportVersion(type: string, version: KeyVersion, exportType: Exclude<ExportType, "certificate-chain">, format: string): string {
  const info = KEY_TYPES[type]!;
  if (exportType === "hmac-key") {
    if (format === "der" || format === "pem") throw new LogicalError(400, "unknown format for HMAC key; supported values are `` or `raw`");
    return version.hmac_key;
  }
  if (info.kind === "aead") {
    if (format === "der" || format === "pem") throw new LogicalError(400, "unknown format for HMAC key; supported values are `` or `raw`");
    return version.key!;
  }
  // As Vault: a version imported as a public key exports its private key as "".
  const privateExport = exportType === "encryption-key" || exportType === "signing-key";
  if (privateExport && !hasPrivateKey(version) && (info.kind === "ed25519" || format !== "raw")) return "";
  if (info.kind === "ed25519") {
    const raw = exportType === "public-key" ? fromBase64(version.public_key!) : fromBase64(version.key!);
    if (format === "" || format === "raw") return toBase64(raw);
    const der = exportType === "public-key" ? ed25519Spki(raw) : ed25519Pkcs8(raw.subarray(0, 32));
    return format === "der" ? toBase64(der) : pem(exportType === "public-key" ? "PUBLIC KEY" : "PRIVATE KEY", der).trim();
  }
  if (format === "raw")
    throw new LogicalError(400, `unknown key format for ${info.kind === "rsa" ? "rsa" : "ec"} key; supported values are \`\`, \`der\`, or \`pem\``);
  if (exportType === "public-key") {
    const der = pemBody(version.public_key!);
    if (format === "der") return toBase64(der);
    return info.kind === "rsa" ? version.public_key! : version.public_key!.trim();
  }
  const pkcs8 = fromBase64(version.private_key!);
  if (format === "der") return toBase64(pkcs8);
  if (format === "pem") return info.kind === "rsa" ? pem("PRIVATE KEY", pkcs8) : pem("PRIVATE KEY", pkcs8).trim();
  const inner = new Uint8Array(AsnConvert.parse(pkcs8, PrivateKeyInfo).privateKey.buffer);
  // PKCS #8 carries the PKCS #1 RSAPrivateKey as is; SEC 1 needs the curve named inside, as Go writes it.
  if (info.kind === "rsa") return pem("RSA PRIVATE KEY", inner);
  const ecKey = AsnConvert.parse(inner, ECPrivateKey);
  ecKey.parameters = new ECParameters({ namedCurve: info.curve!.oid });
  ecKey.publicKey ??= ecPublicPoint(version, info.curve!.bytes);
  return pem("EC PRIVATE KEY", new Uint8Array(AsnConvert.serialize(ecKey))).trim();
}

/** The uncompressed point 0x04 ‖ X ‖ Y that ends an EC SubjectPublicKeyInfo. */
function ecPublicPoint(version: KeyVersion, curveBytes: number): ArrayBuffer {
  const spki = pemBody(version.public_key!);
  return spki.slice(spki.length - (1 + 2 * curveBytes)).buffer;
}

const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export function ed25519Pkcs8(seed: Uint8Array): Uint8Array {
  return concat(ED25519_PKCS8_PREFIX, seed);
}

export function ed25519Spki(publicKey: Uint8Array): Uint8Array {
  return concat(ED25519_SPKI_PREFIX, publicKey);
}
