/**
 * `encrypt/`, `decrypt/`, `rewrap/` and `datakey/`: single items or `batch_input`, as Vault answers
 * them; and `config/keys`, whose `disable_upsert` stops encrypt from creating missing keys.
 */
import { decodeJson, encodeJson, toBase64 } from "../../sdk/encoding.js";
import type { Endpoint } from "../../sdk/framework.js";
import { parseFlag } from "../../sdk/fields.js";
import { type HandlerResult, type LogicalRequest, LogicalError, type Storage } from "../../sdk/types.js";
import { decrypt, encrypt, requireConsistentContext } from "./cipher.js";
import { base64Field, batchInput, decodeBase64, encodeBase64, has, integer, text } from "./inputs.js";
import { createPolicy, type Keyring, LoadedKey, rotationDue } from "./keyring.js";
import { randomBytes } from "./primitives.js";

/** One item of a batch (or the single request): its fields as given, and its answer. */
interface Item {
  input: Record<string, unknown>;
  context: Uint8Array;
  error?: string;
  output?: Record<string, unknown>;
}

const UPSERT_TYPES = new Set(["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"]);
/** The mount-wide key settings Vault keeps at the same path. */
const KEYS_CONFIG = "config/keys";

export function encryptionEndpoints(keyring: Keyring): Endpoint<LogicalRequest>[] {
  return [
    {
      pattern: "encrypt/:name",
      exists: async (request, { name }) => (await keyring.get(request.storage, name!)) !== null,
      operations: { update: (request, { name }) => encryptHandler(keyring, request, name!) },
    },
    { pattern: "decrypt/:name", standby: true, operations: { update: (request, { name }) => decryptHandler(keyring, request, name!) } },
    { pattern: "rewrap/:name", operations: { update: (request, { name }) => rewrapHandler(keyring, request, name!) } },
    { pattern: "datakey/:plaintext/:name", operations: { update: (request, { plaintext, name }) => datakeyHandler(keyring, request, plaintext!, name!) } },
    {
      pattern: "config/keys",
      operations: {
        read: async ({ storage }) => ({ data: { disable_upsert: await upsertDisabled(storage) } }),
        update: async ({ storage, data }) => {
          // As Vault's field: absent means false.
          const disableUpsert = parseFlag("disable_upsert", data.disable_upsert) ?? false;
          if (disableUpsert !== (await upsertDisabled(storage))) await storage.put(KEYS_CONFIG, encodeJson({ disable_upsert: disableUpsert }));
          return { data: { disable_upsert: disableUpsert } };
        },
      },
    },
  ];
}

async function upsertDisabled(storage: Storage): Promise<boolean> {
  const bytes = await storage.get(KEYS_CONFIG);
  return bytes ? decodeJson<{ disable_upsert: boolean }>(bytes).disable_upsert : false;
}

/** The items of a request: `batch_input`, or the request's own fields as one item (`required` must be present). */
function itemsOf(data: Record<string, unknown>, required: string, missing: string): { items: Item[]; batch: boolean } {
  const batch = batchInput(data);
  if (!batch && (required === "plaintext" ? !has(data, required) : text(data, required) === "")) throw new LogicalError(400, missing);
  const inputs = batch ?? [data];
  requireConsistentContext(inputs.map((input) => text(input, "context")));
  const items = inputs.map((input): Item => {
    const decoded = decodeBase64(text(input, "context"));
    return typeof decoded === "string" ? { input, context: new Uint8Array(), error: decoded } : { input, context: decoded };
  });
  return { items, batch: batch !== null };
}

/**
 * Runs `work` on every item still without an error, all at once (WebCrypto calls overlap on its
 * thread pool, so a batch costs far less than its items one after another), keeping each item's
 * error as its answer.
 */
async function eachItem(items: Item[], work: (item: Item, index: number) => Promise<Record<string, unknown>>): Promise<void> {
  // Most requests are one item: no array of promises to gather.
  if (items.length === 1) return settle(items[0]!, 0, work);
  await Promise.all(items.map((item, index) => settle(item, index, work)));
}

async function settle(item: Item, index: number, work: (item: Item, index: number) => Promise<Record<string, unknown>>): Promise<void> {
  if (item.error !== undefined) return;
  try {
    item.output = await work(item, index);
  } catch (error) {
    if (!(error instanceof LogicalError)) throw error;
    item.error = error.message;
  }
}

/** Vault's answer: the single item's fields or its error; a batch's results, with 400 when any item failed. */
function answer(items: Item[], batch: boolean, warnings?: string[]): HandlerResult {
  if (!batch) {
    const [item] = items;
    if (item!.error !== undefined) throw new LogicalError(400, item!.error);
    return { data: item!.output!, ...(warnings ? { warnings } : {}) };
  }
  // The output gains its reference in place: spreading it into a new object was among a batch item's larger costs.
  const results = items.map((item) => {
    const reference = text(item.input, "reference");
    if (item.error !== undefined) return { error: item.error, reference };
    item.output!.reference = reference;
    return item.output!;
  });
  if (items.some((item) => item.error !== undefined)) throw new LogicalError(400, "", { data: { batch_results: results } });
  return { data: { batch_results: results }, ...(warnings ? { warnings } : {}) };
}

function associatedData(key: LoadedKey, input: Record<string, unknown>, index: number, batch: boolean): Uint8Array | undefined {
  const encoded = text(input, "associated_data");
  if (encoded === "") return undefined;
  if (key.info.kind !== "aead") {
    throw new LogicalError(
      400,
      batch
        ? `'[${index}].associated_data' provided for non-AEAD cipher suite ${key.policy.type}`
        : `'associated_data' provided for non-AEAD cipher suite ${key.policy.type}`,
    );
  }
  return base64Field(encoded, "unable to decode associated_data: ");
}

async function requireKey(keyring: Keyring, request: LogicalRequest, name: string): Promise<LoadedKey> {
  const key = await keyring.get(request.storage, name);
  if (!key) throw new LogicalError(400, "encryption key not found");
  return key;
}

async function encryptHandler(keyring: Keyring, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const { items, batch } = itemsOf(request.data, "plaintext", "missing plaintext to encrypt");
  const plaintexts = items.map((item) => {
    const decoded = decodeBase64(text(item.input, "plaintext"));
    if (typeof decoded === "string") item.error ??= decoded;
    return typeof decoded === "string" ? new Uint8Array() : decoded;
  });
  let warnings: string[] | undefined;
  let key = await keyring.get(request.storage, name);
  // Vault's upsert: the ACL has already asked for "create" when the key did not exist.
  if (!key) {
    const created = await upsert(keyring, request, name, items[0]!.context.length > 0);
    key = created.key;
    if (!created.created) warnings = ["Attempted creation of the key during the encrypt operation, but it was created beforehand"];
  }
  const loaded = await rotatedIfDue(keyring, request, key);
  await eachItem(items, async (item, index) => {
    // Only Vault's first convergent scheme took a client nonce; every key here derives it or draws it.
    if (text(item.input, "nonce") !== "") throw new LogicalError(400, "nonce provided when not allowed");
    const { ciphertext, version } = await encrypt(
      loaded,
      integer(item.input, "key_version"),
      item.context,
      plaintexts[index]!,
      associatedData(loaded, item.input, index, batch),
    );
    return { ciphertext, key_version: version };
  });
  return answer(items, batch, warnings);
}

/** Vault's encrypt-creates-the-key: `type` (AEAD types only), derived when a context came, `convergent_encryption`. */
async function upsert(keyring: Keyring, request: LogicalRequest, name: string, derived: boolean): Promise<{ key: LoadedKey; created: boolean }> {
  const convergent = parseFlag("convergent_encryption", request.data.convergent_encryption) ?? false;
  if (convergent && !derived) throw new LogicalError(400, "convergent encryption requires derivation to be enabled, so context is required");
  const type = text(request.data, "type", "aes256-gcm96");
  if (!UPSERT_TYPES.has(type)) {
    throw new LogicalError(400, type.startsWith("ecdsa-") ? `key type ${type} not supported for this operation` : `unknown key type ${type}`);
  }
  // Vault answers as for any missing key once the mount disables upsert.
  if (await upsertDisabled(request.storage)) throw new LogicalError(400, "encryption key not found");
  return keyring.update<{ key: LoadedKey; created: boolean }>(request.storage, name, async (current) => {
    if (current) return { unchanged: { key: new LoadedKey(current), created: false } };
    const settings = { type, derived, convergent, exportable: false, allowPlaintextBackup: false, autoRotatePeriod: 0, keySize: 0 };
    const policy = await createPolicy(name, settings, new Date());
    return { policy, result: { key: new LoadedKey(policy), created: true } };
  });
}

/**
 * Keys due for rotation rotate from the engine's periodic task (index.ts) within a minute; an
 * encrypt that comes first (a write, so on the active) rotates the key itself and uses the new version.
 */
async function rotatedIfDue(keyring: Keyring, request: LogicalRequest, key: LoadedKey): Promise<LoadedKey> {
  if (!rotationDue(key.policy, new Date())) return key;
  const current = await keyring.rotateIfDue(request.storage, key.policy.name, new Date());
  if (!current) throw new LogicalError(400, "encryption key not found");
  return current;
}

async function decryptHandler(keyring: Keyring, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const { items, batch } = itemsOf(request.data, "ciphertext", "missing ciphertext to decrypt");
  for (const item of items) if (text(item.input, "ciphertext") === "") item.error ??= "missing ciphertext to decrypt";
  const key = await requireKey(keyring, request, name);
  await eachItem(items, async (item, index) => {
    const plaintext = await decrypt(key, item.context, text(item.input, "ciphertext"), associatedData(key, item.input, index, batch));
    return { plaintext: encodeBase64(plaintext) };
  });
  return answer(items, batch);
}

async function rewrapHandler(keyring: Keyring, request: LogicalRequest, name: string): Promise<HandlerResult> {
  const { items, batch } = itemsOf(request.data, "ciphertext", "missing ciphertext to decrypt");
  for (const item of items) if (text(item.input, "ciphertext") === "") item.error ??= "missing ciphertext to decrypt";
  const key = await requireKey(keyring, request, name);
  await eachItem(items, async (item, index) => {
    const data = associatedData(key, item.input, index, batch);
    const plaintext = await decrypt(key, item.context, text(item.input, "ciphertext"), data);
    const { ciphertext, version } = await encrypt(key, integer(item.input, "key_version"), item.context, plaintext, data);
    return { ciphertext, key_version: version };
  });
  return answer(items, batch);
}

const DATAKEY_BYTES: Record<string, number> = { "128": 16, "256": 32, "512": 64 };

async function datakeyHandler(keyring: Keyring, request: LogicalRequest, kind: string, name: string): Promise<HandlerResult> {
  if (kind !== "plaintext" && kind !== "wrapped") throw new LogicalError(400, "Invalid path, must be 'plaintext' or 'wrapped'");
  const { data } = request;
  const context = base64Field(text(data, "context"), "", "failed to base64-decode context");
  const key = await requireKey(keyring, request, name);
  const length = DATAKEY_BYTES[text(data, "bits", "256")];
  if (!length) throw new LogicalError(400, "invalid bit length");
  const dataKey = randomBytes(length);
  const { ciphertext, version } = await encrypt(key, integer(data, "key_version"), context, dataKey, associatedData(key, data, 0, false));
  return { data: { ciphertext, key_version: version, ...(kind === "plaintext" ? { plaintext: toBase64(dataKey) } : {}) } };
}
