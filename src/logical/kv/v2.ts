/**
 * KV version 2: versioned secrets, laid out like Vault's versioned K/V engine.
 *
 * Storage (relative to the mount):
 *   config                  engine-wide settings
 *   metadata/<key>          one entry per secret: settings and the state of every kept version
 *   versions/<key>/<n>      the data of version n (reading one version never loads the others)
 * Version numbers have no '/', so `versions/<key>/<n>` cannot collide between keys.
 *
 * Concurrency: writes to one key are serialised by an in-process lock, so within one process no
 * version is lost and no number is reused. This assumes a single node writes at a time (the HA
 * active node); standbys forward writes. Reads take no lock: a version's data is stored before the
 * metadata that announces it, and a version pruned or destroyed mid-read answers 404.
 */

import {
  type HandlerResult,
  type LogicalRequest,
  type LogicalResponse,
  type MountEntry,
  type Operation,
  type SecretsEngine,
  type Storage,
  LogicalError,
} from "../types.js";
import { formatDuration, formatTime, isPlainObject, parseCount, parseDuration, parseFlag } from "../fields.js";
import { decodeJson, encodeJson } from "../encoding.js";
import { listPrefix, listResponse, notFound, unsupportedOperation } from "./responses.js";

/** Versions kept per key when neither the engine config nor the key sets `max_versions`. */
export const DEFAULT_MAX_VERSIONS = 10;

const CONFIG_KEY = "config";
/** Engine config `delete_version_after` below zero switches automatic deletion off everywhere. */
const DELETION_DISABLED = -1;

const MAX_CUSTOM_METADATA_KEYS = 64;
const MAX_CUSTOM_METADATA_KEY_BYTES = 128;
const MAX_CUSTOM_METADATA_VALUE_BYTES = 512;

interface EngineConfig {
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfterSeconds: number;
}

interface VersionState {
  createdMillis: number;
  deletionMillis: number | null;
  destroyed: boolean;
}

interface KeyMetadata {
  createdMillis: number;
  updatedMillis: number;
  currentVersion: number;
  /** 0 until the first version is pruned, as Vault reports it. */
  oldestVersion: number;
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfterSeconds: number;
  customMetadata: Record<string, string> | null;
  versions: Record<string, VersionState>;
}

const defaultConfig: EngineConfig = { maxVersions: 0, casRequired: false, deleteVersionAfterSeconds: 0 };

export interface KvV2Options {
  /** Clock for created/deletion times and for deciding whether a deletion has taken effect. */
  now?: () => Date;
}

export function createKvV2(options: KvV2Options = {}): SecretsEngine {
  return new VersionedKv(options.now ?? (() => new Date()));
}

/** Serialises async tasks per key: each task starts after the previous one for its key settles. */
class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

const metadataKey = (key: string) => `metadata/${key}`;
const versionKey = (key: string, version: number) => `versions/${key}/${version}`;

class VersionedKv implements SecretsEngine {
  readonly #now: () => number;
  readonly #lock = new KeyedLock();

  constructor(now: () => Date) {
    this.#now = () => now().getTime();
  }

  async initialize(storage: Storage): Promise<void> {
    if (!(await storage.get(CONFIG_KEY))) await storage.put(CONFIG_KEY, encodeJson(defaultConfig));
  }

  /** Writes to data/ and metadata/ need "create" for a new key and "update" for an existing one. */
  async exists({ storage, path }: LogicalRequest): Promise<boolean | null> {
    const match = /^(?:data|metadata)\/(.+)$/.exec(path);
    return match ? (await loadMetadata(storage, match[1]!)) !== null : null;
  }

  async handle(request: LogicalRequest): Promise<HandlerResult> {
    const { operation } = request;
    const path = operation === "list" ? listPrefix(request.path) : request.path;
    if (path === CONFIG_KEY) return this.#config(request);

    const slash = path.indexOf("/");
    if (slash === -1) return invalidPath(path, operation);
    const section = path.slice(0, slash);
    const key = path.slice(slash + 1);
    switch (section) {
      case "data":
        return this.#data(request, key);
      case "metadata":
        return this.#metadata(request, key);
      case "delete":
      case "undelete":
      case "destroy":
        if (operation !== "create" && operation !== "update") throw unsupportedOperation();
        return this.#changeVersions(section, request, key);
      case "subkeys":
        if (operation !== "read") throw unsupportedOperation();
        return this.#readSubkeys(request, key);
      default:
        return invalidPath(path, operation);
    }
  }

  // --- config ---------------------------------------------------------------------------------

  async #config({ operation, storage, data }: LogicalRequest): Promise<HandlerResult> {
    if (operation === "read") {
      const config = await loadConfig(storage);
      return {
        data: {
          cas_required: config.casRequired,
          delete_version_after: formatDuration(config.deleteVersionAfterSeconds),
          max_versions: config.maxVersions,
        },
      };
    }
    if (operation !== "create" && operation !== "update") throw unsupportedOperation();

    const maxVersions = parseCount("max_versions", data.max_versions);
    const casRequired = parseFlag("cas_required", data.cas_required);
    const deleteAfter = parseDuration("delete_version_after", data.delete_version_after);
    if (maxVersions === undefined && casRequired === undefined && deleteAfter === undefined) return null;
    const config = await loadConfig(storage);
    if (maxVersions !== undefined) config.maxVersions = maxVersions;
    if (casRequired !== undefined) config.casRequired = casRequired;
    if (deleteAfter !== undefined) config.deleteVersionAfterSeconds = Math.max(deleteAfter, DELETION_DISABLED);
    await storage.put(CONFIG_KEY, encodeJson(config));
    return null;
  }

  // --- data/<key> -----------------------------------------------------------------------------

  async #data(request: LogicalRequest, key: string): Promise<HandlerResult> {
    if (key === "" || key.endsWith("/")) return invalidPath(request.path, request.operation);
    switch (request.operation) {
      case "read":
        return this.#readData(request, key);
      case "create":
      case "update":
        return this.#writeData(request, key);
      case "patch":
        return this.#patchData(request, key);
      case "delete":
        return this.#deleteLatest(request, key);
      case "list":
        return invalidPath(request.path, request.operation);
    }
  }

  async #readData({ storage, data }: LogicalRequest, key: string): Promise<HandlerResult> {
    const { metadata, value } = await this.#readVersion(storage, key, data.version, "data");
    return { data: { data: value, metadata } };
  }

  /**
   * A live version (the latest when `requested` is absent or 0), or Vault's 404. For a deleted or
   * destroyed version the 404 body carries `{[field]: null, metadata}` in `data`, as Vault does.
   */
  async #readVersion(storage: Storage, key: string, requested: unknown, field: "data" | "subkeys") {
    const versionParam = parseCount("version", requested) ?? 0;
    const meta = await loadMetadata(storage, key);
    if (!meta) throw notFound();
    const versionNumber = versionParam || meta.currentVersion;
    const state: VersionState | undefined = meta.versions[versionNumber];
    if (!state) throw notFound();
    const metadata = versionView(meta, versionNumber, state);
    if (state.destroyed || this.#isDeleted(state)) throw notFound({ data: { [field]: null, metadata } });
    const bytes = await storage.get(versionKey(key, versionNumber));
    if (!bytes) throw notFound();
    return { metadata, value: decodeJson<Record<string, unknown>>(bytes) };
  }

  async #writeData({ storage, data, mount }: LogicalRequest, key: string): Promise<HandlerResult> {
    const secret = requireSecretData(data.data);
    const cas = parseCheckAndSet(data.options);
    return this.#lock.run(lockKey(mount, key), async () => {
      const config = await loadConfig(storage);
      const meta = (await loadMetadata(storage, key)) ?? this.#newMetadata();
      checkAndSet(cas, config, meta);
      return this.#appendVersion(storage, key, meta, config, secret);
    });
  }

  /** JSON merge patch (RFC 7396) of `data` onto the current version, stored as a new version. */
  async #patchData({ storage, data, mount }: LogicalRequest, key: string): Promise<HandlerResult> {
    const patch = requireSecretData(data.data);
    const cas = parseCheckAndSet(data.options);
    return this.#lock.run(lockKey(mount, key), async () => {
      const meta = await loadMetadata(storage, key);
      if (!meta) throw notFound();
      const config = await loadConfig(storage);
      checkAndSet(cas, config, meta);
      const state: VersionState | undefined = meta.versions[meta.currentVersion];
      if (!state) throw notFound();
      if (state.destroyed || this.#isDeleted(state)) {
        throw notFound({ data: versionView(meta, meta.currentVersion, state) });
      }
      const bytes = await storage.get(versionKey(key, meta.currentVersion));
      if (!bytes) throw notFound();
      const patched = mergePatch(decodeJson<Record<string, unknown>>(bytes), patch);
      return this.#appendVersion(storage, key, meta, config, patched as Record<string, unknown>);
    });
  }

  async #appendVersion(
    storage: Storage,
    key: string,
    meta: KeyMetadata,
    config: EngineConfig,
    secret: Record<string, unknown>,
  ): Promise<LogicalResponse> {
    const now = this.#now();
    const version = meta.currentVersion + 1;
    await storage.put(versionKey(key, version), encodeJson(secret));

    const state: VersionState = {
      createdMillis: now,
      deletionMillis: scheduledDeletion(now, config, meta),
      destroyed: false,
    };
    meta.versions[version] = state;
    meta.currentVersion = version;
    meta.updatedMillis = now;
    const pruned = pruneVersions(meta, config);
    await saveMetadata(storage, key, meta);

    const response: LogicalResponse = { data: versionView(meta, version, state) };
    try {
      for (const old of pruned) await storage.delete(versionKey(key, old));
    } catch (error) {
      response.warnings = [`could not remove pruned versions ${pruned.join(", ")} of this key: ${error}`];
    }
    return response;
  }

  async #deleteLatest({ storage, mount }: LogicalRequest, key: string): Promise<HandlerResult> {
    await this.#lock.run(lockKey(mount, key), async () => {
      const meta = await loadMetadata(storage, key);
      const state: VersionState | undefined = meta?.versions[meta.currentVersion];
      if (!meta || !state || state.destroyed || this.#isDeleted(state)) return;
      state.deletionMillis = this.#now();
      await saveMetadata(storage, key, meta);
    });
    return null;
  }

  // --- delete/<key>, undelete/<key>, destroy/<key> ----------------------------------------------

  async #changeVersions(
    action: "delete" | "undelete" | "destroy",
    { storage, data, mount }: LogicalRequest,
    key: string,
  ): Promise<HandlerResult> {
    const versions = parseVersionList(data.versions);
    await this.#lock.run(lockKey(mount, key), async () => {
      const meta = await loadMetadata(storage, key);
      if (!meta) return;
      const config = await loadConfig(storage);
      const now = this.#now();
      const live = versions.filter((n) => meta.versions[n] && !meta.versions[n].destroyed);
      for (const n of live) {
        const state = meta.versions[n]!;
        if (action === "delete" && !this.#isDeleted(state)) state.deletionMillis = now;
        if (action === "undelete") state.deletionMillis = scheduledDeletion(now, config, meta);
        if (action === "destroy") state.destroyed = true;
      }
      await saveMetadata(storage, key, meta);
      if (action === "destroy") for (const n of live) await storage.delete(versionKey(key, n));
    });
    return null;
  }

  // --- metadata/<key> -------------------------------------------------------------------------

  async #metadata(request: LogicalRequest, key: string): Promise<HandlerResult> {
    switch (request.operation) {
      case "read":
        return this.#readMetadata(request, key);
      case "create":
      case "update":
        return this.#writeMetadata(request, key);
      case "patch":
        return this.#patchMetadata(request, key);
      case "delete":
        return this.#deleteMetadata(request, key);
      case "list":
        return this.#listMetadata(request, key);
    }
  }

  async #readMetadata({ storage }: LogicalRequest, key: string): Promise<HandlerResult> {
    const meta = await loadMetadata(storage, key);
    if (!meta) throw notFound();
    const versions: Record<string, unknown> = {};
    for (const [n, state] of Object.entries(meta.versions)) {
      versions[n] = {
        created_time: formatTime(state.createdMillis),
        deletion_time: state.deletionMillis === null ? "" : formatTime(state.deletionMillis),
        destroyed: state.destroyed,
      };
    }
    return {
      data: {
        cas_required: meta.casRequired,
        created_time: formatTime(meta.createdMillis),
        current_version: meta.currentVersion,
        custom_metadata: meta.customMetadata,
        delete_version_after: formatDuration(meta.deleteVersionAfterSeconds),
        max_versions: meta.maxVersions,
        oldest_version: meta.oldestVersion,
        updated_time: formatTime(meta.updatedMillis),
        versions,
      },
    };
  }

  async #writeMetadata({ storage, data, mount }: LogicalRequest, key: string): Promise<HandlerResult> {
    requireKey(key);
    const settings = parseMetadataSettings(data);
    const parsedCustom = parseCustomMetadata(data.custom_metadata);
    const customMetadata = parsedCustom && validCustomMetadata(parsedCustom);
    if (Object.keys(settings).length === 0 && customMetadata === undefined) return null;
    const warnings = await casRequiredWarnings(storage, settings.casRequired);
    await this.#lock.run(lockKey(mount, key), async () => {
      const meta = (await loadMetadata(storage, key)) ?? this.#newMetadata();
      Object.assign(meta, settings);
      if (customMetadata !== undefined) meta.customMetadata = customMetadata;
      await saveMetadata(storage, key, meta);
    });
    return warnings.length > 0 ? { warnings } : null;
  }

  /** Like a write, but only for existing keys, and `custom_metadata` is merged (null removes). */
  async #patchMetadata({ storage, data, mount }: LogicalRequest, key: string): Promise<HandlerResult> {
    requireKey(key);
    const settings = parseMetadataSettings(data);
    const customPatch = parseCustomMetadata(data.custom_metadata, { allowNull: true });
    const warnings = await casRequiredWarnings(storage, settings.casRequired);
    await this.#lock.run(lockKey(mount, key), async () => {
      const meta = await loadMetadata(storage, key);
      if (!meta) throw notFound();
      Object.assign(meta, settings);
      if (customPatch !== undefined) {
        const merged = mergePatch(meta.customMetadata ?? {}, customPatch) as Record<string, string>;
        meta.customMetadata = validCustomMetadata(merged);
      }
      await saveMetadata(storage, key, meta);
    });
    return warnings.length > 0 ? { warnings } : null;
  }

  async #deleteMetadata({ storage, mount }: LogicalRequest, key: string): Promise<HandlerResult> {
    await this.#lock.run(lockKey(mount, key), async () => {
      const meta = await loadMetadata(storage, key);
      if (!meta) return;
      for (const n of Object.keys(meta.versions)) await storage.delete(versionKey(key, Number(n)));
      await storage.delete(metadataKey(key));
    });
    return null;
  }

  async #listMetadata({ storage, data }: LogicalRequest, prefix: string): Promise<HandlerResult> {
    const keys = await storage.list(metadataKey(prefix));
    if (!parseFlag("exclude_deleted", data.exclude_deleted)) return listResponse(keys);
    const kept: string[] = [];
    for (const name of keys) {
      const meta = name.endsWith("/") ? null : await loadMetadata(storage, prefix + name);
      const current: VersionState | undefined = meta?.versions[meta.currentVersion];
      if (!current || !this.#isDeleted(current)) kept.push(name);
    }
    return listResponse(kept);
  }

  // --- subkeys/<key> --------------------------------------------------------------------------

  /** The secret's structure with every leaf value replaced by null, down to `depth` (0 = all). */
  async #readSubkeys({ storage, data }: LogicalRequest, key: string): Promise<HandlerResult> {
    const depth = parseCount("depth", data.depth) ?? 0;
    const { metadata, value } = await this.#readVersion(storage, key, data.version, "subkeys");
    return { data: { subkeys: stripValues(value, depth, 1), metadata } };
  }

  // --- helpers that need the clock -------------------------------------------------------------

  #isDeleted(state: VersionState): boolean {
    return state.deletionMillis !== null && state.deletionMillis <= this.#now();
  }

  #newMetadata(): KeyMetadata {
    const now = this.#now();
    return {
      createdMillis: now,
      updatedMillis: now,
      currentVersion: 0,
      oldestVersion: 0,
      maxVersions: 0,
      casRequired: false,
      deleteVersionAfterSeconds: 0,
      customMetadata: null,
      versions: {},
    };
  }
}

/** The engine with the real clock (after the class: classes are not hoisted). */
export const kvV2: SecretsEngine = createKvV2();

/** Per mount, so one engine instance can serve several mounts. */
function lockKey(mount: MountEntry, key: string): string {
  return `${mount.uuid}\u0000${key}`;
}

async function loadConfig(storage: Storage): Promise<EngineConfig> {
  const bytes = await storage.get(CONFIG_KEY);
  return bytes ? { ...defaultConfig, ...decodeJson<Partial<EngineConfig>>(bytes) } : { ...defaultConfig };
}

async function loadMetadata(storage: Storage, key: string): Promise<KeyMetadata | null> {
  if (key === "") return null;
  const bytes = await storage.get(metadataKey(key));
  return bytes ? decodeJson<KeyMetadata>(bytes) : null;
}

async function saveMetadata(storage: Storage, key: string, meta: KeyMetadata): Promise<void> {
  await storage.put(metadataKey(key), encodeJson(meta));
}

/** The per-version metadata block of data reads and writes. */
function versionView(meta: KeyMetadata, version: number, state: VersionState): Record<string, unknown> {
  return {
    created_time: formatTime(state.createdMillis),
    custom_metadata: meta.customMetadata,
    deletion_time: state.deletionMillis === null ? "" : formatTime(state.deletionMillis),
    destroyed: state.destroyed,
    version,
  };
}

/**
 * Vault's rule: the shortest non-zero of the engine's and the key's `delete_version_after`, unless
 * the engine switched automatic deletion off.
 */
function scheduledDeletion(fromMillis: number, config: EngineConfig, meta: KeyMetadata): number | null {
  if (config.deleteVersionAfterSeconds < 0) return null;
  const delays = [config.deleteVersionAfterSeconds, meta.deleteVersionAfterSeconds].filter((s) => s > 0);
  return delays.length > 0 ? fromMillis + Math.min(...delays) * 1000 : null;
}

/**
 * Drops the versions beyond the limit from `meta` and returns their numbers. As Vault does, the
 * limit is the larger of the engine's and the key's `max_versions` (10 when both are 0), and
 * `oldest_version` only moves once something has been pruned.
 */
function pruneVersions(meta: KeyMetadata, config: EngineConfig): number[] {
  const limit = Math.max(meta.maxVersions, config.maxVersions) || DEFAULT_MAX_VERSIONS;
  if (meta.currentVersion - meta.oldestVersion < limit) return [];
  const newestPruned = meta.currentVersion - limit;
  const pruned: number[] = [];
  for (let n = Math.max(meta.oldestVersion, 1); n <= newestPruned; n++) {
    delete meta.versions[n];
    pruned.push(n);
  }
  meta.oldestVersion = newestPruned + 1;
  return pruned;
}

function requireKey(key: string): void {
  if (key === "") throw new LogicalError(400, "missing path");
  if (key.endsWith("/")) throw new LogicalError(400, `invalid path "${key}": must not end with '/'`);
}

function requireSecretData(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) throw new LogicalError(400, "no data provided");
  if (!isPlainObject(value)) {
    throw new LogicalError(400, `"data" must be a JSON object of the secret's fields, got ${describe(value)}`);
  }
  return value;
}

/** `options.cas`, or undefined when the write does not ask for check-and-set. */
function parseCheckAndSet(options: unknown): number | undefined {
  if (options === undefined || options === null) return undefined;
  if (!isPlainObject(options)) {
    throw new LogicalError(400, `"options" must be a JSON object, got ${describe(options)}`);
  }
  if (options.cas === undefined || options.cas === null) return undefined;
  try {
    return parseCount("cas", options.cas);
  } catch {
    const given = JSON.stringify(options.cas);
    throw new LogicalError(400, `error parsing check-and-set parameter: ${given} is not a version number`);
  }
}

function checkAndSet(cas: number | undefined, config: EngineConfig, meta: KeyMetadata): void {
  if (cas === undefined) {
    if (config.casRequired || meta.casRequired) {
      throw new LogicalError(400, "check-and-set parameter required for this call");
    }
  } else if (cas !== meta.currentVersion) {
    throw new LogicalError(400, "check-and-set parameter did not match the current version");
  }
}

/** `versions` as a JSON array of numbers/numeric strings, a number, or "1,2,3". */
function parseVersionList(value: unknown): number[] {
  const items: unknown[] =
    value === undefined || value === null
      ? []
      : typeof value === "string"
        ? value.split(",").filter((part) => part.trim() !== "")
        : Array.isArray(value)
          ? value
          : [value];
  if (items.length === 0) throw new LogicalError(400, "no version number provided");
  return items.map((item) => {
    const text = typeof item === "string" ? item.trim() : item;
    const number = typeof text === "string" && /^\d+$/.test(text) ? Number(text) : text;
    if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 1) {
      throw new LogicalError(400, `invalid version ${JSON.stringify(item)} in "versions": expected positive integers`);
    }
    return number;
  });
}

type MetadataSettings = Partial<Pick<KeyMetadata, "maxVersions" | "casRequired" | "deleteVersionAfterSeconds">>;

function parseMetadataSettings(data: Record<string, unknown>): MetadataSettings {
  const settings: MetadataSettings = {};
  const maxVersions = parseCount("max_versions", data.max_versions);
  const casRequired = parseFlag("cas_required", data.cas_required);
  const deleteAfter = parseDuration("delete_version_after", data.delete_version_after);
  if (deleteAfter !== undefined && deleteAfter < 0) {
    throw new LogicalError(400, "invalid delete_version_after: a key's delete_version_after cannot be negative");
  }
  if (maxVersions !== undefined) settings.maxVersions = maxVersions;
  if (casRequired !== undefined) settings.casRequired = casRequired;
  if (deleteAfter !== undefined) settings.deleteVersionAfterSeconds = deleteAfter;
  return settings;
}

async function casRequiredWarnings(storage: Storage, casRequired: boolean | undefined): Promise<string[]> {
  if (casRequired !== false || !(await loadConfig(storage)).casRequired) return [];
  return ['"cas_required" is false here, but the engine config requires check-and-set on every key, so it still applies.'];
}

/**
 * `custom_metadata` as string values (numbers and booleans are converted, as Vault does);
 * `allowNull` keeps null values, which a patch uses to remove keys.
 */
function parseCustomMetadata(
  value: unknown,
  { allowNull = false } = {},
): Record<string, string | null> | undefined {
  if (value === undefined || (value === null && !allowNull)) return undefined;
  if (!isPlainObject(value)) {
    throw new LogicalError(400, `custom_metadata validation failed: expected a JSON object, got ${describe(value)}`);
  }
  const parsed: Record<string, string | null> = {};
  for (const [name, item] of Object.entries(value)) {
    if (item === null && allowNull) {
      parsed[name] = null;
    } else if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") {
      parsed[name] = String(item);
    } else {
      throw new LogicalError(400, `custom_metadata validation failed: value of "${name}" must be a string, got ${describe(item)}`);
    }
  }
  return parsed;
}

const utf8 = new TextEncoder();
/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const unprintable = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

function validCustomMetadata(entries: Record<string, string | null>): Record<string, string> {
  const names = Object.keys(entries);
  if (names.length > MAX_CUSTOM_METADATA_KEYS) {
    throw new LogicalError(
      400,
      `custom_metadata validation failed: at most ${MAX_CUSTOM_METADATA_KEYS} keys are allowed, got ${names.length}`,
    );
  }
  const problems: string[] = [];
  for (const [name, value] of Object.entries(entries)) {
    const keyBytes = utf8.encode(name).length;
    const valueBytes = utf8.encode(value ?? "").length;
    if (keyBytes === 0 || keyBytes > MAX_CUSTOM_METADATA_KEY_BYTES) {
      problems.push(`key "${name}" is ${keyBytes} bytes long, must be 1 to ${MAX_CUSTOM_METADATA_KEY_BYTES}`);
    }
    if (valueBytes === 0 || valueBytes > MAX_CUSTOM_METADATA_VALUE_BYTES) {
      problems.push(`value of "${name}" is ${valueBytes} bytes long, must be 1 to ${MAX_CUSTOM_METADATA_VALUE_BYTES}`);
    }
    if (unprintable.test(name)) problems.push(`key "${name}" contains unprintable characters`);
    if (unprintable.test(value ?? "")) problems.push(`value of "${name}" contains unprintable characters`);
  }
  if (problems.length > 0) throw new LogicalError(400, `custom_metadata validation failed: ${problems.join("; ")}`);
  return entries as Record<string, string>;
}

/** RFC 7396: objects merge recursively, null removes a field, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  // A Map (not property assignment) so a "__proto__" field stays an ordinary field.
  const merged = new Map(Object.entries(isPlainObject(target) ? target : {}));
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) merged.delete(name);
    else merged.set(name, mergePatch(merged.get(name), value));
  }
  return Object.fromEntries(merged);
}

function stripValues(value: Record<string, unknown>, maxDepth: number, depth: number): Record<string, unknown> {
  const stripped = new Map<string, unknown>();
  for (const [name, item] of Object.entries(value)) {
    const descend = isPlainObject(item) && Object.keys(item).length > 0 && (maxDepth === 0 || depth < maxDepth);
    stripped.set(name, descend ? stripValues(item, maxDepth, depth + 1) : null);
  }
  return Object.fromEntries(stripped);
}

/** Vault's 404 for paths outside the v2 layout, with a warning that points to the right API. */
function invalidPath(path: string, operation: Operation): never {
  if (["data", "metadata", "delete", "undelete", "destroy"].includes(path)) {
    throw notFound({ warnings: [`"${path}/" needs a secret path after it; of the roots, only metadata/ can be listed.`] });
  }
  const command = { create: "put", update: "put", patch: "patch", read: "get", list: "list", delete: "delete" }[operation];
  throw notFound({
    warnings: [
      "Invalid path for a versioned K/V secrets engine: secrets live under data/<path>, settings under " +
        `metadata/<path> (see the KV v2 API docs). With the Vault CLI, use 'vault kv ${command}'.`,
    ],
  });
}

function describe(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
}
