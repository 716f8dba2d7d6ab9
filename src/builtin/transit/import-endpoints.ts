/**
 * BYOK: `wrapping_key`, `keys/:name/import`, `keys/:name/import_version` and `byok-export/`. A key
 * comes in wrapped to the mount's wrapping key (key-wrap.ts), or as a public key alone; it leaves,
 * wrapped the same way, to an RSA key of the mount, usually another mount's wrapping key imported
 * here as a public key, so that mount can import it.
 */
import { decodeJson, encodeJson, fromBase64, toBase64 } from "../../sdk/encoding.js";
import type { Endpoint } from "../../sdk/framework.js";
import { parseFlag } from "../../sdk/fields.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { type HandlerResult, type LogicalRequest, LogicalError, type Storage } from "../../sdk/types.js";
import { completedVersion, importsPublicKey, privateVersion, publicVersion } from "./imported-material.js";
import { decodeBase64, has, integer, text } from "./inputs.js";
import { oaepHash, unwrapKeyMaterial, wrapKeyMaterial } from "./key-wrap.js";
import type { Keyring, LoadedKey, StoredPolicy } from "./keyring.js";
import { keySettings, versionsToExport } from "./keys-endpoints.js";
import { ed25519Pkcs8, hasPrivateKey, KEY_TYPES, type KeyVersion, pem, pemBody, supportsSigning } from "./material.js";

const WRAPPING_KEY = "import/wrapping-key";
/** An RSA-OAEP ciphertext under the 4096-bit wrapping key. */
const WRAPPED_AES_KEY_BYTES = 512;

interface StoredWrappingKey {
  private_key: string;
  public_key: string;
}

/** What an import request carries: wrapped material (private or symmetric), or a public key alone. */
type Imported = { material: Uint8Array } | { publicKey: string };

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
    { pattern: "byok-export/:destination/:source/:version?", operations: { read: (request, params) => byokExport(keyring, request, params) } },
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

  /** The key material inside `ciphertext`, wrapped to this mount's wrapping key with `hash_function`. */
  async unwrap(storage: Storage, data: Record<string, unknown>): Promise<Uint8Array> {
    const hash = oaepHash(text(data, "hash_function", "SHA256"));
    const ciphertext = decodeBase64(text(data, "ciphertext"));
    if (typeof ciphertext === "string") throw new LogicalError(400, ciphertext);
    if (ciphertext.length <= WRAPPED_AES_KEY_BYTES) throw new LogicalError(400, "provided ciphertext is too short");
    const stored = await storage.get(WRAPPING_KEY);
    if (!stored) throw new LogicalError(400, "error importing key: the wrapping key has not been read yet; read wrapping_key first");
    return unwrapKeyMaterial(fromBase64(decodeJson<StoredWrappingKey>(stored).private_key), ciphertext, WRAPPED_AES_KEY_BYTES, hash);
  }
}

/**
 * As Vault tells the two imports apart: `ciphertext` present means wrapped material (and wins over
 * `public_key`); anything else is a public key, refused for types that have none.
 */
async function importedFrom(wrapping: WrappingKey, { storage, data }: LogicalRequest, type: string): Promise<Imported> {
  if (has(data, "ciphertext")) return { material: await wrapping.unwrap(storage, data) };
  if (!importsPublicKey(type)) throw new LogicalError(400, "provided type does not support public_key import");
  return { publicKey: text(data, "public_key") };
}

/** A new version of a `type` key (derived or not) from what was imported. */
function newVersion(type: string, derived: boolean, imported: Imported): Promise<KeyVersion> {
  if ("material" in imported) return privateVersion(type, imported.material);
  // A derived Ed25519 key signs with keys derived from a secret; a public key cannot stand in for it.
  if (derived && KEY_TYPES[type]!.kind === "ed25519") {
    throw new LogicalError(
      400,
      "unable to import only public key for derived Ed25519 key: imported key should not be an Ed25519 key pair but is instead an HKDF key",
    );
  }
  return publicVersion(type, imported.publicKey);
}

async function importKey(keyring: Keyring, wrapping: WrappingKey, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const { storage, data } = request;
  if (has(data, "convergent_encryption")) throw new LogicalError(400, "import cannot be used on keys with convergent encryption enabled");
  const allowRotation = parseFlag("allow_rotation", data.allow_rotation) ?? false;
  // Vault's import takes the type in any case.
  const type = text(data, "type", "aes256-gcm96");
  if (!Object.hasOwn(KEY_TYPES, type.toLowerCase())) throw new LogicalError(400, `unknown key type: ${type}`);
  const settings = keySettings({ ...data, type: type.toLowerCase(), key_size: undefined });
  if (settings.autoRotatePeriod > 0 && !allowRotation) throw new LogicalError(400, "allow_rotation must be set to true if auto-rotation is enabled");
  const existing = "the import path cannot be used with an existing key; use import-version to rotate an existing imported key";
  if (await keyring.get(storage, name)) throw new LogicalError(400, existing);
  const imported = await importedFrom(wrapping, request, settings.type);
  let version: KeyVersion;
  try {
    version = await newVersion(settings.type, settings.derived, imported);
  } catch (error) {
    throw error instanceof LogicalError ? new LogicalError(400, `error importing key: ${error.message}`) : error;
  }
  await keyring.update(storage, name, async (current) => {
    if (current) throw new LogicalError(400, existing);
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

/**
 * A new version from outside; or, as Vault, the private key of a version imported as a public key:
 * the one `version` names, or the latest when no version is named and it lacks its private key
 * (when that private key does not match it, it becomes a new version instead).
 */
async function importVersion(keyring: Keyring, wrapping: WrappingKey, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const { storage, data } = request;
  const requireImportable = (policy: StoredPolicy | null | undefined): StoredPolicy => {
    if (!policy) throw new LogicalError(400, `no key found with name ${name}; to import a new key, use the import/ endpoint`);
    if (!policy.imported_key) throw new LogicalError(400, "the import_version endpoint can only be used with an imported key");
    if (policy.convergent_encryption) throw new LogicalError(400, "import_version cannot be used on keys with convergent encryption enabled");
    return policy;
  };
  const { type } = requireImportable((await keyring.get(storage, name))?.policy);
  const imported = await importedFrom(wrapping, request, type);
  const named = has(data, "version") ? integer(data, "version") : undefined;
  await keyring.update(storage, name, async (found) => {
    const current = requireImportable(found);
    const completing = named ?? current.latest_version;
    const entry = Object.hasOwn(current.keys, String(completing)) ? current.keys[String(completing)] : undefined;
    if (named !== undefined) {
      if (!entry) throw new LogicalError(400, "no such key version");
      if (!importsPublicKey(current.type)) throw new LogicalError(400, "provided type does not support importing key versions");
      if (hasPrivateKey(entry)) throw new LogicalError(400, "private key imported, key version cannot be updated");
      if (!("material" in imported)) throw new LogicalError(400, "cannot add a public key to a key version that already has a public key set");
      return { policy: withVersion(current, named, await completedVersion(current.type, entry, imported.material)), result: null };
    }
    if ("material" in imported && entry && !hasPrivateKey(entry)) {
      const completed = await completedVersion(current.type, entry, imported.material).catch(() => null);
      if (completed) return { policy: withVersion(current, completing, completed), result: null };
    }
    const version = await newVersion(current.type, current.derived, imported);
    if (current.type === "hmac" && fromBase64(version.key!).length !== current.key_size) {
      throw new LogicalError(
        400,
        `invalid key size ${fromBase64(version.key!).length} bytes for key type hmac: this key's versions are ${current.key_size} bytes`,
      );
    }
    const latest = current.latest_version + 1;
    return { policy: { ...withVersion(current, latest, version), latest_version: latest }, result: null };
  });
  return null;
}

function withVersion(policy: StoredPolicy, number: number, version: KeyVersion): StoredPolicy {
  return { ...policy, keys: { ...policy.keys, [String(number)]: version } };
}

/**
 * Vault's byok-export: the `source` key's versions, each wrapped to the latest version of the RSA
 * key `destination` in the format `keys/:name/import` reads. A key of any other type cannot receive
 * it; the source must be exportable, as for `export/`.
 */
async function byokExport(keyring: Keyring, { storage, data }: LogicalRequest, params: Record<string, string>): Promise<HandlerResult> {
  const destination = await keyring.get(storage, params.destination!);
  if (!destination) throw new LogicalError(400, "no such destination key to export to");
  const source = await keyring.get(storage, params.source!);
  if (!source) throw new LogicalError(400, "no such source key for export");
  const { policy } = source;
  if (!policy.exportable) throw new LogicalError(400, "key is not exportable");
  const versions = versionsToExport(policy, params.version);
  const hash = oaepHash(text(data, "hash", "SHA256"));
  const spki = wrappingKeyOf(destination);
  const keys: Record<string, string> = {};
  for (const version of versions) keys[version] = await wrapKeyMaterial(spki, exportedMaterial(source, policy.keys[version]!), hash);
  return { data: { name: policy.name, type: policy.type, keys } };
}

/** The SPKI of the destination's latest version, which only an RSA key can wrap to. */
function wrappingKeyOf(destination: LoadedKey): Uint8Array {
  const { policy, info } = destination;
  if (!supportsSigning(info)) throw new LogicalError(400, `message signing not supported for key type ${policy.type}`);
  if (info.kind !== "rsa") throw new LogicalError(400, "unsupported key type in use; must be a rsa key");
  return pemBody(destination.version(policy.latest_version).public_key!);
}

/** A version's material as an import reads it: raw bytes for symmetric keys, PKCS #8 for the others. */
function exportedMaterial(key: LoadedKey, version: KeyVersion): Uint8Array {
  if (!hasPrivateKey(version)) throw new LogicalError(400, "requested version for export does not contain a private part");
  switch (key.info.kind) {
    case "aead":
    case "hmac":
      return fromBase64(version.key!);
    case "ed25519":
      return ed25519Pkcs8(fromBase64(version.key!).subarray(0, 32));
    default:
      return fromBase64(version.private_key!);
  }
}
