/**
 * A mount's named keys: stored at `policy/<name>` in the mount's storage (inside the barrier), kept
 * decoded in a cache with the WebCrypto keys made from them, and written one at a time per name.
 *
 * The cache belongs to one engine instance. Every write goes through this instance (writes reach
 * the active only), which replaces the entry under the name's lock; a standby builds a new engine
 * instance per write generation, so its cache never outlives what it read.
 */
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { SizedLru } from "../../sdk/lru.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import { generateVersion, KEY_TYPES, type KeyTypeInfo, type KeyVersion } from "./material.js";

export interface StoredPolicy {
  name: string;
  type: string;
  derived: boolean;
  /** "hkdf_sha256" when derived: the only derivation new keys get, as in Vault since 0.x. */
  kdf?: string;
  convergent_encryption: boolean;
  /** As Vault shows it: -1 for keys created with per-version convergent versions. */
  convergent_version?: number;
  exportable: boolean;
  allow_plaintext_backup: boolean;
  deletion_allowed: boolean;
  /** Seconds; 0 = never. */
  auto_rotate_period: number;
  key_size?: number;
  latest_version: number;
  min_decryption_version: number;
  min_encryption_version: number;
  min_available_version: number;
  keys: Record<string, KeyVersion>;
  /** BYOK: the latest material came from outside, and whether Strongbox may rotate it. */
  imported_key?: boolean;
  allow_imported_key_rotation?: boolean;
  backup_info?: { time: string; version: number };
  restore_info?: { time: string; version: number };
}

/** A key as loaded: the stored policy (never modified) and what was prepared from it. */
export class LoadedKey {
  readonly info: KeyTypeInfo;
  readonly #prepared = new Map<string, unknown>();

  constructor(readonly policy: StoredPolicy) {
    this.info = KEY_TYPES[policy.type]!;
  }

  /** `make()` once per `id` for this loading of the key (a version's decoded bytes, say). */
  kept<T>(id: string, make: () => T): T {
    if (!this.#prepared.has(id)) this.#prepared.set(id, make());
    return this.#prepared.get(id) as T;
  }

  /** As `kept`, for what takes a promise to make (an imported CryptoKey); a failed one is made again next time. */
  prepared<T>(id: string, make: () => Promise<T>): Promise<T> {
    let value = this.#prepared.get(id) as Promise<T> | undefined;
    if (!value) {
      value = make();
      this.#prepared.set(id, value);
      value.catch(() => this.#prepared.delete(id));
    }
    return value;
  }

  /** The stored version, or Vault's error when trimmed or never made. */
  version(version: number): KeyVersion {
    const entry = Object.hasOwn(this.policy.keys, String(version)) ? this.policy.keys[String(version)] : undefined;
    if (!entry) throw new LogicalError(400, "no such key version");
    return entry;
  }
}

export interface KeySettings {
  type: string;
  derived: boolean;
  convergent: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  autoRotatePeriod: number;
  keySize: number;
}

const POLICY_PREFIX = "policy/";
const DEFAULT_CACHE_ENTRIES = 10_000;

export class Keyring {
  readonly #locks = new KeyedLock();
  #cache = cacheOf(DEFAULT_CACHE_ENTRIES);
  /** Counts writes, so a read that raced one does not cache what it read before it. */
  #writes = 0;

  resize(entries: number): void {
    this.#cache = cacheOf(entries > 0 ? entries : DEFAULT_CACHE_ENTRIES);
  }

  async get(storage: Storage, name: string): Promise<LoadedKey | null> {
    const cached = this.#cache.get(name);
    if (cached) return cached;
    const writesBefore = this.#writes;
    const bytes = await storage.get(POLICY_PREFIX + name);
    if (!bytes) return null;
    const loaded = new LoadedKey(decodeJson<StoredPolicy>(bytes));
    if (writesBefore === this.#writes) this.#cache.set(name, loaded, 0);
    return loaded;
  }

  /** Rotates `name` if its rotation is due at `now` (checked again under the name's lock); the key as it then is. */
  async rotateIfDue(storage: Storage, name: string, now: Date): Promise<LoadedKey | null> {
    const policy = await this.update<StoredPolicy | null>(storage, name, async (current) => {
      if (!current || !rotationDue(current, now)) return { unchanged: current };
      const next = await rotated(current, now);
      return { policy: next, result: next };
    });
    return policy && ((await this.get(storage, name)) ?? new LoadedKey(policy));
  }

  async list(storage: Storage): Promise<string[]> {
    return (await storage.list(POLICY_PREFIX)).filter((key) => !key.endsWith("/"));
  }

  /**
   * Runs `change` on the current policy (null when absent) under the name's lock; what it returns
   * is stored (null deletes) and becomes the cached key.
   */
  async update<T>(
    storage: Storage,
    name: string,
    change: (current: StoredPolicy | null) => Promise<{ policy: StoredPolicy | null; result: T } | { unchanged: T }>,
  ): Promise<T> {
    return this.#locks.run(name, async () => {
      const bytes = await storage.get(POLICY_PREFIX + name);
      const outcome = await change(bytes ? decodeJson<StoredPolicy>(bytes) : null);
      if ("unchanged" in outcome) return outcome.unchanged;
      this.#writes++;
      this.#cache.delete(name);
      try {
        if (outcome.policy) await storage.put(POLICY_PREFIX + name, encodeJson(outcome.policy));
        else await storage.delete(POLICY_PREFIX + name);
      } finally {
        // A read that began during the write may have seen either value: it must not cache it.
        this.#writes++;
      }
      if (outcome.policy) this.#cache.set(name, new LoadedKey(outcome.policy), 0);
      return outcome.result;
    });
  }
}

function cacheOf(entries: number): SizedLru<LoadedKey> {
  return new SizedLru({ entries, bytes: Number.POSITIVE_INFINITY });
}

function newPolicy(name: string, settings: KeySettings): StoredPolicy {
  return {
    name,
    type: settings.type,
    derived: settings.derived,
    ...(settings.derived ? { kdf: "hkdf_sha256" } : {}),
    convergent_encryption: settings.convergent,
    ...(settings.convergent ? { convergent_version: -1 } : {}),
    exportable: settings.exportable,
    allow_plaintext_backup: settings.allowPlaintextBackup,
    deletion_allowed: false,
    auto_rotate_period: settings.autoRotatePeriod,
    ...(settings.type === "hmac" ? { key_size: settings.keySize } : {}),
    latest_version: 0,
    min_decryption_version: 1,
    min_encryption_version: 0,
    min_available_version: 0,
    keys: {},
  };
}

/** A new key with its first version. */
export async function createPolicy(name: string, settings: KeySettings, now: Date): Promise<StoredPolicy> {
  return rotated(newPolicy(name, settings), now);
}

/** `policy` with one more version, the new latest. */
export async function rotated(policy: StoredPolicy, now: Date): Promise<StoredPolicy> {
  if (!rotatable(policy)) throw new LogicalError(400, `imported key ${policy.name} does not allow rotation within Vault`);
  const version = await generateVersion(policy.type, policy.key_size ?? 0, policy.convergent_encryption, now);
  const latest = policy.latest_version + 1;
  // As Vault: once rotated here, the latest material is no longer imported.
  const imported = policy.imported_key ? { imported_key: false } : {};
  return { ...policy, ...imported, latest_version: latest, keys: { ...policy.keys, [String(latest)]: version } };
}

/** Whether `auto_rotate_period` asks for a new version at `now`. */
export function rotationDue(policy: StoredPolicy, now: Date): boolean {
  if (policy.auto_rotate_period <= 0 || !rotatable(policy)) return false;
  const latest = policy.keys[String(policy.latest_version)];
  return latest !== undefined && now.getTime() - Date.parse(latest.creation_time) >= policy.auto_rotate_period * 1000;
}

/** Whether Strongbox may make a new version: an imported key only if its importer allowed it. */
export function rotatable(policy: StoredPolicy): boolean {
  return !policy.imported_key || policy.allow_imported_key_rotation === true;
}
