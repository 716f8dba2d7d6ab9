/** The KV v2 data model in storage: engine config, per-key metadata, version numbering and pruning. */
import { decodeJson, encodeJson, sharedJson } from "../../sdk/encoding.js";
import { readShared } from "../../sdk/types.js";
import { formatTime } from "../../sdk/fields.js";
import type { Storage } from "../../sdk/types.js";

/** Versions kept per key when neither the engine config nor the key sets `max_versions`. */
export const DEFAULT_MAX_VERSIONS = 10;

export const CONFIG_KEY = "config";
/** Engine config `delete_version_after` below zero switches automatic deletion off everywhere. */
export const DELETION_DISABLED = -1;

export interface EngineConfig {
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfterSeconds: number;
}

export interface VersionState {
  createdMillis: number;
  deletionMillis: number | null;
  destroyed: boolean;
}

export interface KeyMetadata {
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

export const defaultConfig: EngineConfig = { maxVersions: 0, casRequired: false, deleteVersionAfterSeconds: 0 };

export const metadataKey = (key: string) => `metadata/${key}`;
export const versionKey = (key: string, version: number) => `versions/${key}/${version}`;

export async function loadConfig(storage: Storage): Promise<EngineConfig> {
  const bytes = await storage.get(CONFIG_KEY);
  return bytes ? { ...defaultConfig, ...decodeJson<Partial<EngineConfig>>(bytes) } : { ...defaultConfig };
}

export async function loadMetadata(storage: Storage, key: string): Promise<KeyMetadata | null> {
  if (key === "") return null;
  const bytes = await storage.get(metadataKey(key));
  return bytes ? decodeJson<KeyMetadata>(bytes) : null;
}

/** The key's metadata for reading only (every data read loads it): shared and frozen, see SharedDecoding. */
export async function readMetadata(storage: Storage, key: string): Promise<Readonly<KeyMetadata> | null> {
  if (key === "") return null;
  const bytes = await readShared(storage, metadataKey(key));
  return bytes ? (sharedJson.decode(bytes) as KeyMetadata) : null;
}

export async function saveMetadata(storage: Storage, key: string, meta: KeyMetadata): Promise<void> {
  await storage.put(metadataKey(key), encodeJson(meta));
}

/** The per-version metadata block of data reads and writes. */
export function versionView(meta: KeyMetadata, version: number, state: VersionState): Record<string, unknown> {
  return {
    created_time: formatTime(state.createdMillis),
    custom_metadata: meta.customMetadata,
    deletion_time: state.deletionMillis === null ? "" : formatTime(state.deletionMillis),
    destroyed: state.destroyed,
    version,
  };
}

/** Version views of frozen version states (readMetadata's): a data read formats its times once per version. */
const sharedViews = new WeakMap<Readonly<VersionState>, Readonly<Record<string, unknown>>>();

/** versionView for metadata from readMetadata (frozen): the same frozen view for the same version state. */
export function sharedVersionView(meta: Readonly<KeyMetadata>, version: number, state: Readonly<VersionState>): Readonly<Record<string, unknown>> {
  let view = sharedViews.get(state);
  if (view === undefined) {
    view = Object.freeze(versionView(meta, version, state));
    sharedViews.set(state, view);
  }
  return view;
}

/**
 * Vault's rule: the shortest non-zero of the engine's and the key's `delete_version_after`, unless
 * the engine switched automatic deletion off.
 */
export function scheduledDeletion(fromMillis: number, config: EngineConfig, meta: KeyMetadata): number | null {
  if (config.deleteVersionAfterSeconds < 0) return null;
  const delays = [config.deleteVersionAfterSeconds, meta.deleteVersionAfterSeconds].filter((s) => s > 0);
  return delays.length > 0 ? fromMillis + Math.min(...delays) * 1000 : null;
}

/**
 * Drops the versions beyond the limit from `meta` and returns their numbers. As Vault does, the
 * limit is the larger of the engine's and the key's `max_versions` (10 when both are 0), and
 * `oldest_version` only moves once something has been pruned.
 */
export function pruneVersions(meta: KeyMetadata, config: EngineConfig): number[] {
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
