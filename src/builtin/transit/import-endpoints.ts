/**
 * BYOK: `wrapping_key`, `keys/:name/import` and `keys/:name/import_version`. A client wraps its key
 * material as Vault's CLI does: a fresh AES-256 key, RSA-OAEP-encrypted to the mount's wrapping key
 * (512 bytes), followed by the material wrapped under that AES key with AES-KWP (RFC 5649).
 * Symmetric material is raw bytes; asymmetric material is PKCS #8 DER.
 */
import { aeskwp } from "@noble/ciphers/aes.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { decodeJson, encodeJson, fromBase64, rfc3339, toBase64 } from "../../sdk/encoding.js";
import type { Endpoint } from "../../sdk/framework.js";
import { parseFlag } from "../../sdk/fields.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { type HandlerResult, type LogicalRequest, LogicalError, type Storage } from "../../sdk/types.js";
import { decodeBase64, has, text } from "./inputs.js";
import type { Keyring, StoredPolicy } from "./keyring.js";
import { keySettings } from "./keys-endpoints.js";
import { concat, HMAC_MAX_KEY_BYTES, HMAC_MIN_KEY_BYTES, KEY_TYPES, type KeyVersion, pem } from "./material.js";
import { randomBytes } from "./primitives.js";

const WRAPPING_KEY = "import/wrapping-key";
/** An RSA-OAEP ciphertext under the 4096-bit wrapping key. */
const WRAPPED_AES_KEY_BYTES = 512;
const ED25519_OID = "1.3.101.112";
/** OAEP's hash, by Vault's names; WebCrypto has no SHA-224. */
const OAEP_HASHES: Record<string, string> = { SHA1: "SHA-1", SHA256: "SHA-256", SHA384: "SHA-384", SHA512: "SHA-512" };

interface StoredWrappingKey {
  private_key: string;
  public_key: string;
}

export function importEndpoints(keyring: Keyring): Endpoint<LogicalRequest>[] {
  const wrapping = new WrappingKey();
  const named = (handler: (request: LogicalRequest, name: string) => Promise<HandlerResult>) => (request: LogicalRequest, params: Record<string, string>) =>
    handler(request, params.name!);
  return [
    // Made at the first read, so that read is a write: only the active answers it.
    {
      pattern: "wrapping_key",
      standby: false,
      operations: { read: async ({ storage }) => ({ data: { public_key: (await wrapping.get(storage)).public_key } }) },
    },
    { pattern: "keys/:name/import", operations: { update: named((request, name) => importKey(keyring, wrapping, request, name)) } },
    { pattern: "keys/:name/import_version", operations: { update: named((request, name) => importVersion(keyring, wrapping, request, name)) } },
  ];
}

/** The mount's RSA-4096 wrapping key, made once under a lock so concurrent first reads agree. */
class WrappingKey {
  readonly #lock = new KeyedLock();

  get(storage: Storage): Promise<StoredWrappingKey> {
    return this.#lock.run(WRAPPING_KEY, async () => {
      const stored = await storage.get(WRAPPING_KEY);
      if (stored) return decodeJson<StoredWrappingKey>(stored);
      const pair = (await crypto.subtle.generateKey(
        { name: "RSA-OAEP", modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        true,
        ["decrypt", "encrypt"],
      )) as CryptoKeyPair;
      const made = {
        private_key: toBase64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey))),
        public_key: pem("PUBLIC KEY", new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey))),
      };
      await storage.put(WRAPPING_KEY, encodeJson(made));
      return made;
    });
  }

  /** The key material inside `ciphertext`; any failure is the client's (a wrong key, hash or layout). */
  async unwrap(storage: Storage, data: Record<string, unknown>): Promise<Uint8Array> {
    const hashName = text(data, "hash_function", "SHA256").toUpperCase();
    const hash = OAEP_HASHES[hashName];
    if (!hash) {
      throw new LogicalError(
        400,
        hashName === "SHA224" ? "hash function SHA224 is not supported here; use SHA1, SHA256, SHA384 or SHA512" : `unknown hash function: ${hashName}`,
      );
    }
    const ciphertext = decodeBase64(text(data, "ciphertext"));
    if (typeof ciphertext === "string") throw new LogicalError(400, ciphertext);
    if (ciphertext.length <= WRAPPED_AES_KEY_BYTES) throw new LogicalError(400, "provided ciphertext is too short");
    const stored = await storage.get(WRAPPING_KEY);
    if (!stored) throw new LogicalError(400, "error importing key: the wrapping key has not been read yet; read wrapping_key first");
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      fromBase64(decodeJson<StoredWrappingKey>(stored).private_key) as BufferSource,
      { name: "RSA-OAEP", hash },
      false,
      ["decrypt"],
    );
    let aesKey: Uint8Array;
    try {
      aesKey = new Uint8Array(await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, ciphertext.subarray(0, WRAPPED_AES_KEY_BYTES) as BufferSource));
    } catch {
      throw new LogicalError(400, "crypto/rsa: decryption error");
    }
    try {
      if (aesKey.length !== 32) throw new LogicalError(400, "expected ephemeral AES key to be 256-bit");
      try {
        return aeskwp(aesKey).decrypt(ciphertext.subarray(WRAPPED_AES_KEY_BYTES));
      } catch {
        throw new LogicalError(400, "kwp: failed to unwrap key");
      }
    } finally {
      aesKey.fill(0);
    }
  }
}

async function importKey(keyring: Keyring, wrapping: WrappingKey, { storage, data }: LogicalRequest, name: string): Promise<HandlerResult> {
  if (has(data, "convergent_encryption")) throw new LogicalError(400, "import cannot be used on keys with convergent encryption enabled");
  const allowRotation = parseFlag("allow_rotation", data.allow_rotation) ?? false;
  const settings = keySettings({ ...data, key_size: undefined });
  if (settings.autoRotatePeriod > 0 && !allowRotation) throw new LogicalError(400, "allow_rotation must be set to true if auto-rotation is enabled");
  requireCiphertext(data);
  if (await keyring.get(storage, name)) {
    throw new LogicalError(400, "the import path cannot be used with an existing key; use import-version to rotate an existing imported key");
  }
  const version = await versionFrom(settings.type, await wrapping.unwrap(storage, data));
  await keyring.update(storage, name, async (current) => {
    if (current) throw new LogicalError(400, "the import path cannot be used with an existing key; use import-version to rotate an existing imported key");
    const policy: StoredPolicy = {
      name,
      type: settings.type,
      derived: settings.derived,
      ...(settings.derived ? { kdf: "hkdf_sha256" } : {}),
      convergent_encryption: false,
      exportable: settings.exportable,
      allow_plaintext_backup: settings.allowPlaintextBackup,
      deletion_allowed: false,
      auto_rotate_period: settings.autoRotatePeriod,
      ...(settings.type === "hmac" ? { key_size: fromBase64(version.key!).length } : {}),
      latest_version: 1,
      min_decryption_version: 1,
      min_encryption_version: 0,
      min_available_version: 0,
      imported_key: true,
      allow_imported_key_rotation: allowRotation,
      keys: { "1": version },
    };
    return { policy, result: null };
  });
  return null;
}

async function importVersion(keyring: Keyring, wrapping: WrappingKey, { storage, data }: LogicalRequest, name: string): Promise<HandlerResult> {
  requireCiphertext(data);
  // Vault's `version` fills in the private half of a version imported as a public key only; no
  // version here lacks one, so naming a version can only be a mistake.
  if (has(data, "version")) throw new LogicalError(400, "every version of this key has its private key; omit version to import a new one");
  const material = await wrapping.unwrap(storage, data);
  await keyring.update(storage, name, async (current) => {
    if (!current) throw new LogicalError(400, `no key found with name ${name}; to import a new key, use the import/ endpoint`);
    if (!current.imported_key) throw new LogicalError(400, "the import_version endpoint can only be used with an imported key");
    if (current.convergent_encryption) throw new LogicalError(400, "import_version cannot be used on keys with convergent encryption enabled");
    const version = await versionFrom(current.type, material);
    if (current.type === "hmac" && fromBase64(version.key!).length !== current.key_size) {
      throw new LogicalError(
        400,
        `invalid key size ${fromBase64(version.key!).length} bytes for key type hmac: this key's versions are ${current.key_size} bytes`,
      );
    }
    const latest = current.latest_version + 1;
    return { policy: { ...current, latest_version: latest, keys: { ...current.keys, [String(latest)]: version } }, result: null };
  });
  return null;
}

function requireCiphertext(data: Record<string, unknown>): void {
  if (has(data, "public_key")) throw new LogicalError(400, "importing only a public key is not supported; import the private key with ciphertext");
  if (text(data, "ciphertext") === "") throw new LogicalError(400, "missing ciphertext");
}

/** A stored key version made of imported material of `type`, checked as Vault checks it. */
async function versionFrom(type: string, material: Uint8Array): Promise<KeyVersion> {
  const info = KEY_TYPES[type]!;
  const version: KeyVersion = { hmac_key: toBase64(randomBytes(32)), creation_time: rfc3339(new Date()) };
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
    case "ed25519": {
      const seed = ed25519Seed(material);
      const publicKey = ed25519.getPublicKey(seed);
      version.key = toBase64(concat(seed, publicKey));
      version.public_key = toBase64(publicKey);
      return version;
    }
    case "ecdsa":
    case "rsa": {
      const algorithm = info.kind === "ecdsa" ? { name: "ECDSA", namedCurve: info.curve!.name } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
      let privateKey: CryptoKey;
      try {
        privateKey = await crypto.subtle.importKey("pkcs8", material as BufferSource, algorithm, true, ["sign"]);
      } catch {
        throw new LogicalError(400, `error parsing asymmetric key: not a PKCS #8 private key of type ${type}`);
      }
      const bits = (privateKey.algorithm as RsaHashedKeyAlgorithm).modulusLength;
      if (info.kind === "rsa" && bits !== info.modulusBits) throw new LogicalError(400, `invalid key size ${bits} bits for key type ${type}`);
      const jwk = await crypto.subtle.exportKey("jwk", privateKey);
      delete jwk.d;
      for (const field of ["p", "q", "dp", "dq", "qi"] as const) delete jwk[field];
      const publicKey = await crypto.subtle.importKey("jwk", { ...jwk, key_ops: ["verify"] }, algorithm, true, ["verify"]);
      version.private_key = toBase64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey)));
      version.public_key = pem("PUBLIC KEY", new Uint8Array(await crypto.subtle.exportKey("spki", publicKey)));
      return version;
    }
  }
}

/** The 32-byte seed inside an Ed25519 PKCS #8 key (RFC 8410: an OCTET STRING inside the OCTET STRING). */
function ed25519Seed(material: Uint8Array): Uint8Array {
  try {
    const info = AsnConvert.parse(material, PrivateKeyInfo);
    if (info.privateKeyAlgorithm.algorithm !== ED25519_OID) throw new Error("not Ed25519");
    const seed = new Uint8Array(AsnConvert.parse(info.privateKey.buffer, OctetString).buffer);
    if (seed.length !== 32) throw new Error("not a 32-byte seed");
    return seed;
  } catch {
    throw new LogicalError(400, "error parsing asymmetric key: not a PKCS #8 Ed25519 private key");
  }
}
