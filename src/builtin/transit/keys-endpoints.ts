/** `keys/` (create, read, list, delete, config, rotate, trim), `export/`, `backup/` and `restore/`. */
import { decodeJson, encodeJson, fromBase64, rfc3339, toBase64 } from "../../sdk/encoding.js";
import type { Endpoint } from "../../sdk/framework.js";
import { parseFlag, parseNonNegativeDuration } from "../../sdk/fields.js";
import { listResponse, notFound } from "../../sdk/responses.js";
import { type HandlerResult, type LogicalRequest, LogicalError } from "../../sdk/types.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { certificateChainText } from "./certificates.js";
import { base64Field, has, integer, KEY_NAME, text } from "./inputs.js";
import { createPolicy, type Keyring, type KeySettings, LoadedKey, rotated, type StoredPolicy } from "./keyring.js";
import {
  EXPORT_TYPES,
  type ExportType,
  exportVersion,
  HMAC_MAX_KEY_BYTES,
  HMAC_MIN_KEY_BYTES,
  KEY_TYPES,
  supportsDerivation,
  supportsEncryption,
  supportsSigning,
} from "./material.js";
import { deriveKey } from "./primitives.js";

const HOUR = 3600;

export function keysEndpoints(keyring: Keyring): Endpoint<LogicalRequest>[] {
  const key = (handler: (request: LogicalRequest, name: string) => Promise<HandlerResult>) => (request: LogicalRequest, params: Record<string, string>) =>
    handler(request, params.name!);
  return [
    { pattern: "keys", operations: { list: async ({ storage }) => listResponse(await keyring.list(storage)) } },
    {
      pattern: "keys/:name",
      exists: async ({ storage }, { name }) => (await keyring.get(storage, name!)) !== null,
      operations: {
        read: key((request, name) => readKey(keyring, request, name)),
        update: key((request, name) => createKey(keyring, request, name)),
        delete: key((request, name) => deleteKey(keyring, request, name)),
      },
    },
    { pattern: "keys/:name/config", operations: { update: key((request, name) => configureKey(keyring, request, name)) } },
    { pattern: "keys/:name/rotate", operations: { update: key((request, name) => rotateKey(keyring, request, name)) } },
    { pattern: "keys/:name/trim", operations: { update: key((request, name) => trimKey(keyring, request, name)) } },
    { pattern: "export/:type/:name/:version?", operations: { read: (request, params) => exportKey(keyring, request, params) } },
    // A backup records itself in the key, so only the active may answer it.
    { pattern: "backup/:name", standby: false, operations: { read: key((request, name) => backupKey(keyring, request, name)) } },
    { pattern: "restore/:name?", operations: { update: (request, { name }) => restoreKey(keyring, request, name ?? "") } },
  ];
}

/** Vault's key read: settings, versions (creation times; public keys for asymmetric types). */
export async function describe(key: LoadedKey, context?: Uint8Array): Promise<Record<string, unknown>> {
  const { policy, info } = key;
  const data: Record<string, unknown> = {
    name: policy.name,
    type: policy.type,
    derived: policy.derived,
    deletion_allowed: policy.deletion_allowed,
    min_available_version: policy.min_available_version,
    min_decryption_version: policy.min_decryption_version,
    min_encryption_version: policy.min_encryption_version,
    latest_version: policy.latest_version,
    exportable: policy.exportable,
    allow_plaintext_backup: policy.allow_plaintext_backup,
    supports_encryption: supportsEncryption(info),
    supports_decryption: supportsEncryption(info),
    supports_signing: supportsSigning(info),
    supports_derivation: supportsDerivation(info),
    auto_rotate_period: policy.auto_rotate_period,
    imported_key: policy.imported_key ?? false,
    ...(policy.imported_key ? { imported_key_allow_rotation: policy.allow_imported_key_rotation ?? false } : {}),
    ...(policy.key_size ? { key_size: policy.key_size } : {}),
    ...(policy.backup_info ? { backup_info: policy.backup_info } : {}),
    ...(policy.restore_info ? { restore_info: policy.restore_info } : {}),
  };
  if (policy.derived) {
    data.kdf = policy.kdf ?? "hkdf_sha256";
    data.convergent_encryption = policy.convergent_encryption;
    if (policy.convergent_encryption) data.convergent_encryption_version = policy.convergent_version ?? -1;
  }
  const keys: Record<string, unknown> = {};
  for (const [version, entry] of Object.entries(policy.keys)) {
    const created = Date.parse(entry.creation_time);
    if (info.kind === "aead" || info.kind === "hmac") {
      keys[version] = Math.floor(created / 1000);
      continue;
    }
    let publicKey = entry.public_key ?? "";
    if (info.kind === "ed25519" && policy.derived) {
      publicKey = context?.length ? toBase64(ed25519.getPublicKey(await deriveKey(fromBase64(entry.key!), context, 32))) : "";
    }
    const name = info.kind === "ecdsa" ? info.curve!.goName : info.kind === "rsa" ? policy.type : "ed25519";
    keys[version] = { name, public_key: publicKey, certificate_chain: certificateChainText(entry), creation_time: entry.creation_time };
  }
  data.keys = keys;
  return data;
}

function requireName(name: string): void {
  if (!KEY_NAME.test(name)) throw new LogicalError(400, "invalid key name");
}

async function readKey(keyring: Keyring, { storage, data }: LogicalRequest, name: string): Promise<HandlerResult> {
  const key = await keyring.get(storage, name);
  if (!key) throw notFound();
  const context = base64Field(text(data, "context"), "", "failed to base64-decode context");
  return { data: await describe(key, context) };
}

export function keySettings(data: Record<string, unknown>): KeySettings {
  const type = text(data, "type", "aes256-gcm96");
  const info = KEY_TYPES[type];
  if (!info) throw new LogicalError(400, `unknown key type ${type}`);
  const derived = parseFlag("derived", data.derived) ?? false;
  const convergent = parseFlag("convergent_encryption", data.convergent_encryption) ?? false;
  if (convergent && !derived) throw new LogicalError(400, "convergent encryption requires derivation to be enabled");
  if ((derived || convergent) && !supportsDerivation(info))
    throw new LogicalError(400, `key derivation and convergent encryption not supported for keys of type ${type}`);
  if (convergent && info.kind !== "aead") throw new LogicalError(400, `convergent encryption not supported for keys of type ${type}`);
  const autoRotatePeriod = parseNonNegativeDuration("auto_rotate_period", data.auto_rotate_period) ?? 0;
  if (autoRotatePeriod !== 0 && autoRotatePeriod < HOUR) throw new LogicalError(400, "auto rotate period must be 0 to disable or at least an hour");
  let keySize = integer(data, "key_size");
  if (keySize !== 0) {
    if (info.kind !== "hmac") throw new LogicalError(400, `key_size is not valid for algorithm ${type}`);
    if (keySize < HMAC_MIN_KEY_BYTES || keySize > HMAC_MAX_KEY_BYTES) throw new LogicalError(400, `invalid key_size ${keySize}`);
  } else if (info.kind === "hmac") {
    keySize = HMAC_MIN_KEY_BYTES;
  }
  return {
    type,
    derived,
    convergent,
    exportable: parseFlag("exportable", data.exportable) ?? false,
    allowPlaintextBackup: parseFlag("allow_plaintext_backup", data.allow_plaintext_backup) ?? false,
    autoRotatePeriod,
    keySize,
  };
}

async function createKey(keyring: Keyring, { storage, data }: LogicalRequest, name: string): Promise<HandlerResult> {
  requireName(name);
  const settings = keySettings(data);
  const { policy, created } = await keyring.update<{ policy: StoredPolicy; created: boolean }>(storage, name, async (current) => {
    if (current) return { unchanged: { policy: current, created: false } };
    const fresh = await createPolicy(name, settings, new Date());
    return { policy: fresh, result: { policy: fresh, created: true } };
  });
  return { data: await describe(new LoadedKey(policy)), ...(created ? {} : { warnings: [`key ${name} already existed`] }) };
}

async function deleteKey(keyring: Keyring, { storage }: LogicalRequest, name: string): Promise<HandlerResult> {
  await keyring.update(storage, name, async (current) => {
    if (!current) throw new LogicalError(400, `error deleting policy ${name}: could not delete key; not found`);
    if (!current.deletion_allowed) throw new LogicalError(400, `error deleting policy ${name}: deletion is not allowed for this key`);
    return { policy: null, result: null };
  });
  return null;
}

/** Runs `change` on an existing key (`missing` is the error when there is none) and answers with the key as stored. */
async function changeKey(
  keyring: Keyring,
  request: LogicalRequest,
  name: string,
  missing: string,
  change: (policy: StoredPolicy) => Promise<StoredPolicy | null>,
): Promise<HandlerResult> {
  const result = await keyring.update<StoredPolicy>(request.storage, name, async (current) => {
    if (!current) throw new LogicalError(400, missing);
    const changed = await change(current);
    return changed ? { policy: changed, result: changed } : { unchanged: current };
  });
  return { data: await describe(new LoadedKey(result)) };
}

async function configureKey(keyring: Keyring, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const { data } = request;
  let warning: string | undefined;
  const answer = await changeKey(keyring, request, name, `no existing key named ${name} could be found`, async (current) => {
    const policy = { ...current };
    if (has(data, "min_decryption_version")) {
      let minimum = integer(data, "min_decryption_version");
      if (minimum < 0) throw new LogicalError(400, "min decryption version cannot be negative");
      if (minimum === 0) {
        minimum = 1;
        warning = "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1";
      }
      if (minimum > policy.latest_version)
        throw new LogicalError(400, `cannot set min decryption version of ${minimum}, latest key version is ${policy.latest_version}`);
      policy.min_decryption_version = minimum;
    }
    if (has(data, "min_encryption_version")) {
      const minimum = integer(data, "min_encryption_version");
      if (minimum < 0) throw new LogicalError(400, "min encryption version cannot be negative");
      if (minimum > policy.latest_version)
        throw new LogicalError(400, `cannot set min encryption version of ${minimum}, latest key version is ${policy.latest_version}`);
      policy.min_encryption_version = minimum;
    }
    if (policy.min_encryption_version > 0 && policy.min_encryption_version < policy.min_decryption_version) {
      throw new LogicalError(
        400,
        `cannot set min encryption/decryption values; min encryption version of ${policy.min_encryption_version} must be greater than or equal to min decryption version of ${policy.min_decryption_version}`,
      );
    }
    const deletionAllowed = parseFlag("deletion_allowed", data.deletion_allowed);
    if (deletionAllowed !== undefined) policy.deletion_allowed = deletionAllowed;
    // Once key material may leave, it may have left: neither can be turned off again.
    if (parseFlag("exportable", data.exportable)) policy.exportable = true;
    if (parseFlag("allow_plaintext_backup", data.allow_plaintext_backup)) policy.allow_plaintext_backup = true;
    const period = parseNonNegativeDuration("auto_rotate_period", data.auto_rotate_period);
    if (period !== undefined) {
      if (period !== 0 && period < HOUR) throw new LogicalError(400, "auto rotate period must be 0 to disable or at least an hour");
      policy.auto_rotate_period = period;
    }
    if (policy.min_available_version > policy.min_encryption_version && has(data, "min_encryption_version")) {
      throw new LogicalError(400, "min encryption version should not be less than min available version");
    }
    if (policy.min_available_version > policy.min_decryption_version)
      throw new LogicalError(400, "min decryption version should not be less then min available version");
    return JSON.stringify(policy) === JSON.stringify(current) ? null : policy;
  });
  return warning && answer ? { ...answer, warnings: [warning] } : answer;
}

async function rotateKey(keyring: Keyring, request: LogicalRequest, name: string): Promise<HandlerResult> {
  return changeKey(keyring, request, name, "key not found", (current) => rotated(current, new Date()));
}

async function trimKey(keyring: Keyring, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const { data } = request;
  return changeKey(keyring, request, name, "invalid key name", async (current) => {
    if (!has(data, "min_available_version")) throw new LogicalError(400, "missing min_available_version");
    const minimum = integer(data, "min_available_version");
    if (minimum < current.min_available_version) throw new LogicalError(400, "minimum available version cannot be decremented");
    if (current.min_encryption_version === 0) throw new LogicalError(400, "minimum available version cannot be set when minimum encryption version is not set");
    if (minimum > current.min_encryption_version) throw new LogicalError(400, "minimum available version cannot be greater than minmum encryption version");
    if (minimum > current.min_decryption_version) throw new LogicalError(400, "minimum available version cannot be greater than minimum decryption version");
    if (minimum <= 0) throw new LogicalError(400, "minimum available version should be positive");
    const keys = Object.fromEntries(Object.entries(current.keys).filter(([version]) => Number(version) >= minimum));
    return { ...current, min_available_version: minimum, keys };
  });
}

async function exportKey(keyring: Keyring, { storage, data }: LogicalRequest, params: Record<string, string>): Promise<HandlerResult> {
  const exportType = params.type!;
  if (!(EXPORT_TYPES as readonly string[]).includes(exportType)) throw new LogicalError(400, `invalid export type: ${exportType}`);
  const format = text(data, "format");
  if (!["", "raw", "der", "pem"].includes(format)) throw new LogicalError(400, `invalid format: ${format}`);
  const key = await keyring.get(storage, params.name!);
  if (!key) throw notFound();
  const { policy, info } = key;
  // Public keys and certificate chains are public: a key that is not exportable hands them out too.
  if (!policy.exportable && exportType !== "public-key" && exportType !== "certificate-chain") {
    throw new LogicalError(400, "private key material is not exportable");
  }
  if (exportType === "encryption-key" && !supportsEncryption(info)) throw new LogicalError(400, "encryption not supported for the key");
  if (exportType === "signing-key" && !supportsSigning(info)) throw new LogicalError(400, "signing not supported for the key");
  if (exportType === "public-key" && !supportsSigning(info)) throw new LogicalError(400, `unknown key type ${policy.type} for export type public-key`);
  if (exportType === "certificate-chain" && !supportsSigning(info))
    throw new LogicalError(400, "certificate chain not supported for keys that do not support signing");
  const keys: Record<string, string> = {};
  for (const version of versionsToExport(policy, params.version)) {
    const entry = policy.keys[version]!;
    if (exportType !== "certificate-chain") {
      keys[version] = exportVersion(policy.type, entry, exportType as Exclude<ExportType, "certificate-chain">, format);
    } else if (entry.certificate_chain?.length) {
      keys[version] = certificateChainText(entry);
    } else {
      // Vault answers 500 here; a version the client picked without a chain is the client's mistake.
      throw new LogicalError(400, "selected key version does not have a certificate chain imported");
    }
  }
  return { data: { name: policy.name, type: policy.type, keys } };
}

/** The versions `export/` and `byok-export/` hand out: all, or the one the path names (a number, `v<number>` or `latest`). */
export function versionsToExport(policy: StoredPolicy, requested: string | undefined): string[] {
  if (requested === undefined) return Object.keys(policy.keys);
  if (!/^v?\d{1,15}$/.test(requested) && requested !== "latest") throw new LogicalError(400, "invalid key version");
  const version = requested === "latest" ? policy.latest_version : Number(requested.replace(/^v/, ""));
  if (version < policy.min_decryption_version) throw new LogicalError(400, "version for export is below minimum decryption version");
  if (!Object.hasOwn(policy.keys, String(version))) throw new LogicalError(400, "version does not exist or cannot be found");
  return [String(version)];
}

/** The backup: base64 of the key's stored JSON, which `restore/` reads back (on any Strongbox cluster). */
async function backupKey(keyring: Keyring, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const policy = await keyring.update<StoredPolicy>(request.storage, name, async (current) => {
    if (!current) throw new LogicalError(400, `key "${name}" not found`);
    if (!current.exportable) throw new LogicalError(400, "exporting is disallowed on the policy");
    if (!current.allow_plaintext_backup) throw new LogicalError(400, "plaintext backup is disallowed on the policy");
    const recorded = { ...current, backup_info: { time: rfc3339(new Date()), version: current.latest_version } };
    return { policy: recorded, result: recorded };
  });
  return { data: { backup: toBase64(encodeJson({ policy })) } };
}

async function restoreKey(keyring: Keyring, { storage, data }: LogicalRequest, nameInPath: string): Promise<HandlerResult> {
  const backup = text(data, "backup");
  if (backup === "") throw new LogicalError(400, "'backup' must be supplied");
  const force = parseFlag("force", data.force) ?? false;
  const restored = parseBackup(backup);
  const name = nameInPath || text(data, "name") || restored.name;
  if (name.includes("/")) throw new LogicalError(400, "key names cannot be paths");
  requireName(name);
  await keyring.update(storage, name, async (current) => {
    if (current && !force) throw new LogicalError(400, `key "${name}" already exists`);
    return { policy: { ...restored, name, restore_info: { time: rfc3339(new Date()), version: restored.latest_version } }, result: null };
  });
  return null;
}

/** A backup checked enough that every later use of the key finds what it expects. */
function parseBackup(backup: string): StoredPolicy {
  let policy: StoredPolicy;
  try {
    policy = decodeJson<{ policy: StoredPolicy }>(base64Field(backup, "")).policy;
  } catch {
    throw new LogicalError(400, "invalid backup: not a transit key backup");
  }
  const valid =
    typeof policy === "object" &&
    policy !== null &&
    typeof policy.name === "string" &&
    typeof policy.type === "string" &&
    Object.hasOwn(KEY_TYPES, policy.type) &&
    Number.isSafeInteger(policy.latest_version) &&
    typeof policy.keys === "object" &&
    policy.keys !== null &&
    [policy.min_decryption_version, policy.min_encryption_version, policy.min_available_version, policy.auto_rotate_period].every(Number.isSafeInteger) &&
    Object.hasOwn(policy.keys, String(policy.latest_version)) &&
    Object.values(policy.keys).every((entry) => validVersion(policy.type, entry));
  if (!valid) throw new LogicalError(400, "invalid backup: not a transit key backup");
  return policy;
}

/** A stored version carries what its type's operations read. */
function validVersion(type: string, entry: unknown): boolean {
  if (typeof entry !== "object" || entry === null) return false;
  const fields = entry as Record<string, unknown>;
  const strings = (...names: string[]) => names.every((name) => typeof fields[name] === "string");
  // A version imported as a public key has no private key to restore.
  const optional = (name: string) => fields[name] === undefined || typeof fields[name] === "string";
  if (!strings("hmac_key", "creation_time")) return false;
  const chain = fields.certificate_chain;
  if (chain !== undefined && !(Array.isArray(chain) && chain.every((der) => typeof der === "string"))) return false;
  const kind = KEY_TYPES[type]!.kind;
  if (kind === "ecdsa" || kind === "rsa") return strings("public_key") && optional("private_key");
  return kind === "ed25519" ? strings("public_key") && optional("key") : strings("key");
}
