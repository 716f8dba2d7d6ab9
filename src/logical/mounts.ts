import { invalidDuration, isPlainObject, parseNonNegativeDuration, trimSlashes } from "../sdk/fields.js";
import { decodeJson, encodeJson, randomBase62, randomUuid } from "../sdk/encoding.js";
import { SECRETS_ENGINES } from "../builtin/catalog.js";
import { checkMountTtls, type LeaseTtls, VAULT_LEASE_TTLS } from "../sdk/lease-ttls.js";
import { storageView } from "./storage-view.js";
import { LogicalError, type MountEntry, type SecretsEngine, type Storage } from "../sdk/types.js";

const MOUNT_TABLE_KEY = "core/mounts";
const MOUNT_DATA_PREFIX = "logical/";

/** Paths the core owns; secrets engines cannot be mounted over them. */
const PROTECTED_PREFIXES = ["sys/", "auth/", "cubbyhole/", "identity/"];

interface Mounted {
  entry: MountEntry;
  engine: SecretsEngine;
  storage: Storage;
}

/** Normalises a user-supplied mount path to "name/" form. */
export function normaliseMountPath(path: string): string {
  const trimmed = trimSlashes(path);
  return trimmed ? `${trimmed}/` : "";
}

/** The item whose mount path ("name/") is the longest prefix of `path`, as Vault's router picks. */
export function longestMountPrefix<T>(items: Iterable<T>, path: string, mountPath: (item: T) => string): T | null {
  let best: T | null = null;
  for (const item of items) {
    const prefix = mountPath(item);
    if ((path.startsWith(prefix) || `${path}/` === prefix) && (!best || prefix.length > mountPath(best).length)) best = item;
  }
  return best;
}

/**
 * The mount table (kept behind the barrier at core/mounts) and the router that finds the mount for
 * a request path by longest prefix, as Vault's router does.
 */
export class MountTable {
  readonly #barrier: Storage;
  #mounts: Mounted[] = [];
  /** Mounts the core serves itself (cubbyhole/): listed in sys/mounts, never routed here, never disabled. */
  #builtins: MountEntry[] = [];

  private constructor(
    barrier: Storage,
    readonly leaseTtls: LeaseTtls,
  ) {
    this.#barrier = barrier;
  }

  static async load(barrier: Storage, leaseTtls = VAULT_LEASE_TTLS): Promise<MountTable> {
    const table = new MountTable(barrier, leaseTtls);
    const bytes = await barrier.get(MOUNT_TABLE_KEY);
    const entries = bytes ? decodeJson<MountEntry[]>(bytes) : [];
    table.#mounts = entries.map((entry) => table.#attach(entry));
    return table;
  }

  entries(): MountEntry[] {
    return [...this.#builtins, ...this.#mounts.map((m) => m.entry)];
  }

  addBuiltin(entry: MountEntry): void {
    this.#builtins.push(entry);
  }

  /** The mount serving `path` and the path relative to it, or null. */
  route(path: string): { mounted: Mounted; relative: string } | null {
    const best = longestMountPrefix(this.#mounts, path, (mounted) => mounted.entry.path);
    return best ? { mounted: best, relative: path.slice(best.entry.path.length) } : null;
  }

  async enable(rawPath: string, data: Record<string, unknown>): Promise<void> {
    const path = normaliseMountPath(rawPath);
    if (!path) throw new LogicalError(400, "mount path cannot be empty");
    this.#checkFree(path);
    let type = typeof data.type === "string" ? data.type : "";
    const options = stringOptions(data.options);
    if (type === "kv-v2") {
      type = "kv";
      options.version = "2";
    }
    // Vault's old names for KV version 1.
    if (type === "generic" || type === "kv-v1") {
      type = "kv";
      options.version = "1";
    }
    if (!Object.hasOwn(SECRETS_ENGINES, type)) throw new LogicalError(400, `plugin not found in the catalog: ${type || "(no type given)"}`);
    if (type === "kv") {
      options.version ??= "1";
      if (options.version !== "1" && options.version !== "2") throw new LogicalError(400, `kv "version" must be 1 or 2, got "${options.version}"`);
    }
    const entry: MountEntry = {
      path,
      type,
      description: typeof data.description === "string" ? data.description : "",
      accessor: `${type}_${randomBase62(8).toLowerCase()}`,
      uuid: randomUuid(),
      config: tuneConfig({ default_lease_ttl: 0, max_lease_ttl: 0 }, data.config, this.leaseTtls),
      options,
      local: data.local === true,
      seal_wrap: data.seal_wrap === true,
    };
    const mounted = this.#attach(entry);
    await mounted.engine.initialize?.(mounted.storage, entry);
    this.#mounts.push(mounted);
    await this.#persist();
  }

  async disable(rawPath: string): Promise<void> {
    const path = normaliseMountPath(rawPath);
    if (this.#builtins.some((entry) => entry.path === path)) throw new LogicalError(400, `cannot unmount "${path}"`);
    const mounted = this.#mounts.find((m) => m.entry.path === path);
    if (!mounted) return; // Vault treats disabling an absent mount as success.
    this.#mounts = this.#mounts.filter((m) => m !== mounted);
    await this.#persist();
    await deleteTree(mounted.storage, "");
  }

  /**
   * sys/remount: the mount keeps its uuid, so its data (stored under the uuid) stays where it is and
   * only the path in the table changes, in one write: a crash leaves it at the old path or the new.
   */
  async move(rawFrom: string, rawTo: string): Promise<{ from: string; to: string }> {
    const requested = normaliseMountPath(rawFrom);
    if (PROTECTED_PREFIXES.some((p) => requested.startsWith(p))) {
      throw new LogicalError(400, `cannot move "${requested}": system mounts and auth methods cannot be remounted by Strongbox`);
    }
    const mounted = this.find(requested);
    const to = normaliseMountPath(rawTo);
    if (!to) throw new LogicalError(400, `"to" cannot be empty`);
    if (to === mounted.entry.path) throw new LogicalError(400, `path is already in use at ${to}`);
    this.#checkFree(to, mounted);
    const from = mounted.entry.path;
    mounted.entry.path = to;
    try {
      await this.#persist();
    } catch (error) {
      mounted.entry.path = from;
      throw error;
    }
    return { from, to };
  }

  async tune(rawPath: string, data: Record<string, unknown>): Promise<void> {
    const mounted = this.find(rawPath);
    const config = tuneConfig(mounted.entry.config, data, this.leaseTtls);
    const options = stringOptions(data.options);
    if (options.version && options.version !== mounted.entry.options.version) {
      throw new LogicalError(400, "changing the kv version of a mount is not supported");
    }
    mounted.entry.config = config;
    if (typeof data.description === "string") mounted.entry.description = data.description;
    await this.#persist();
  }

  find(rawPath: string): Mounted {
    const path = normaliseMountPath(rawPath);
    const mounted = this.#mounts.find((m) => m.entry.path === path);
    if (!mounted) throw new LogicalError(400, `no mount at "${path}"`);
    return mounted;
  }

  /** Rejects a path that is reserved or overlaps another mount (`moving` may overlap itself). */
  #checkFree(path: string, moving?: Mounted): void {
    if (PROTECTED_PREFIXES.some((p) => path.startsWith(p))) throw new LogicalError(400, `cannot mount under reserved path "${path}"`);
    const conflict = this.#mounts.find((m) => m !== moving && (m.entry.path.startsWith(path) || path.startsWith(m.entry.path)));
    if (conflict) throw new LogicalError(400, `path is already in use at ${conflict.entry.path}`);
  }

  /** Runs every engine's scheduled work; one engine's failure neither stops the others nor is lost. */
  async periodic(now: Date): Promise<{ mount: string; error: unknown }[]> {
    const failures: { mount: string; error: unknown }[] = [];
    for (const { entry, engine, storage } of this.#mounts) {
      try {
        await engine.periodic?.(storage, entry, now);
      } catch (error) {
        failures.push({ mount: entry.path, error });
      }
    }
    return failures;
  }

  #attach(entry: MountEntry): Mounted {
    const engine = SECRETS_ENGINES[entry.type]!(entry, { leaseTtls: this.leaseTtls });
    return { entry, engine, storage: storageView(this.#barrier, `${MOUNT_DATA_PREFIX}${entry.uuid}/`) };
  }

  async #persist(): Promise<void> {
    await this.#barrier.put(MOUNT_TABLE_KEY, encodeJson(this.#mounts.map((m) => m.entry)));
  }
}

function stringOptions(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new LogicalError(400, `"options" must be an object`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

/** The mount's TTL settings changed by `input` (0 or "system" means the system's), checked against `system`. */
export function tuneConfig(current: MountEntry["config"], input: unknown, system: LeaseTtls): MountEntry["config"] {
  if (input === undefined || input === null) return current;
  if (!isPlainObject(input)) throw new LogicalError(400, `"config" must be an object`);
  const fields = input as Record<string, unknown>;
  const read = (name: "default_lease_ttl" | "max_lease_ttl") => {
    const value = fields[name];
    if (value === null) throw invalidDuration(name, value);
    if (value === undefined || value === "" || value === "system") return current[name];
    return parseNonNegativeDuration(name, value)!;
  };
  const config = { default_lease_ttl: read("default_lease_ttl"), max_lease_ttl: read("max_lease_ttl") };
  checkMountTtls(config, system);
  return config;
}

export async function deleteTree(storage: Storage, prefix: string): Promise<void> {
  for (const child of await storage.list(prefix)) {
    if (child.endsWith("/")) await deleteTree(storage, prefix + child);
    else await storage.delete(prefix + child);
  }
}

/** A mount as sys/mounts (and sys/auth) describe it. */
export function describeMount(entry: MountEntry): Record<string, unknown> {
  return {
    accessor: entry.accessor,
    config: { ...entry.config, force_no_cache: false },
    description: entry.description,
    external_entropy_access: false,
    local: entry.local,
    options: entry.options,
    plugin_version: "",
    running_plugin_version: "",
    running_sha256: "",
    seal_wrap: entry.seal_wrap,
    type: entry.type,
    uuid: entry.uuid,
  };
}

/**
 * A mount the core serves itself (cubbyhole/, identity/): its entry, kept at `key` behind the
 * barrier and made the first time, and the storage below it.
 */
export async function builtinMount(
  barrier: Storage,
  key: string,
  made: Pick<MountEntry, "path" | "type" | "description" | "local">,
): Promise<{ entry: MountEntry; storage: Storage }> {
  const bytes = await barrier.get(key);
  let entry: MountEntry;
  if (bytes) {
    entry = decodeJson<MountEntry>(bytes);
  } else {
    entry = {
      ...made,
      accessor: `${made.type}_${randomBase62(8).toLowerCase()}`,
      uuid: randomUuid(),
      config: { default_lease_ttl: 0, max_lease_ttl: 0 },
      options: {},
      seal_wrap: false,
    };
    await barrier.put(key, encodeJson(entry));
  }
  return { entry, storage: storageView(barrier, `${MOUNT_DATA_PREFIX}${entry.uuid}/`) };
}
