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
} from "../../sdk/types.js";
import { formatDuration, formatTime, parseCount, parseDuration, parseFlag } from "../../sdk/fields.js";
import { decodeJson, encodeJson, sharedJson } from "../../sdk/encoding.js";
import { readShared } from "../../sdk/types.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { listPrefix, listResponse, notFound } from "../../sdk/responses.js";
import { unsupportedOperation } from "../../sdk/types.js";
import {
  casRequiredWarnings,
  checkAndSet,
  mergePatch,
  parseCheckAndSet,
  parseCustomMetadata,
  parseMetadataSettings,
  parseVersionList,
  requireKey,
  requireSecretData,
  stripValues,
  validCustomMetadata,
} from "./v2-fields.js";
import {
  CONFIG_KEY,
  defaultConfig,
  DELETION_DISABLED,
  type EngineConfig,
  type KeyMetadata,
  loadConfig,
  loadMetadata,
  readMetadata,
  metadataKey,
  pruneVersions,
  saveMetadata,
  scheduledDeletion,
  sharedVersionView,
  versionKey,
  versionView,
  type VersionState,
} from "./v2-metadata.js";

export interface KvV2Options {
  /** Clock for created/deletion times and for deciding whether a deletion has taken effect. */
  now?: () => Date;
}

export function createKvV2(options: KvV2Options = {}): SecretsEngine {
  return new VersionedKv(options.now ?? (() => new Date()));
}

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
    return match ? (await readMetadata(storage, match[1]!)) !== null : null;
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
    const meta = await readMetadata(storage, key);
    if (!meta) throw notFound();
    const versionNumber = versionParam || meta.currentVersion;
    const state: VersionState | undefined = meta.versions[versionNumber];
    if (!state) throw notFound();
    const metadata = sharedVersionView(meta, versionNumber, state);
    if (state.destroyed || this.#isDeleted(state)) throw notFound({ data: { [field]: null, metadata } });
    const bytes = await readShared(storage, versionKey(key, versionNumber));
    if (!bytes) throw notFound();
    return { metadata, value: sharedJson.decode(bytes) as Readonly<Record<string, unknown>> };
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

  async #appendVersion(storage: Storage, key: string, meta: KeyMetadata, config: EngineConfig, secret: Record<string, unknown>): Promise<LogicalResponse> {
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

  async #changeVersions(action: "delete" | "undelete" | "destroy", { storage, data, mount }: LogicalRequest, key: string): Promise<HandlerResult> {
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
