/**
 * The auth method table (behind the barrier at `core/auth`, as Vault keeps it) and the router that
 * finds the method serving an `auth/<mount>/...` path. The token method is built in at `token/`;
 * each other method's data lives under `auth/<uuid>/`.
 */
import { decodeJson, encodeJson, randomUuid, toHex } from "../../sdk/encoding.js";
import { type LeaseTtls, VAULT_LEASE_TTLS } from "../../sdk/lease-ttls.js";
import { deleteTree, longestMountPrefix, normaliseMountPath, tuneConfig } from "../mounts.js";
import { storageView } from "../storage-view.js";
import { LogicalError, type MountEntry, type Storage } from "../../sdk/types.js";
import { InvalidCredentials } from "../../sdk/auth.js";
import { effectiveLockoutConfig, type StoredLockout, type StoredLockoutConfig, tuneLockoutConfig, UserLockout } from "./lockout.js";
import type { AuthMethod } from "../../sdk/auth.js";
import { AUTH_METHODS } from "../../builtin/catalog.js";

const AUTH_TABLE_KEY = "core/auth";
const AUTH_DATA_PREFIX = "auth/";
/** One entry per mount accessor: the lockouts in force when it was written (see lockout.ts). */
const LOCKOUTS_PREFIX = "core/login/locked-users/";
/**
 * Lockouts written per mount: each write rewrites the mount's entry, so this bounds its size. An
 * attacker locking out more names than this in one lockout duration pushes the oldest out of
 * storage (not out of this node's memory).
 */
const MAX_STORED_LOCKOUTS = 1000;

/** An auth table entry: a mount entry, plus the lockout settings tuned on it. */
export interface AuthMountEntry extends MountEntry {
  user_lockout_config?: StoredLockoutConfig;
}

export interface MountedAuth {
  entry: AuthMountEntry;
  method: AuthMethod;
  storage: Storage;
}

export class AuthTable {
  readonly #barrier: Storage;
  #entries: AuthMountEntry[] = [];
  /** Failure counts of this node's term as active, and the lockouts (see lockout.ts). */
  readonly #lockout = new UserLockout();
  /** Lockout entries are rewritten one at a time, each with the lockouts in force when it starts. */
  #lockoutWrites: Promise<void> = Promise.resolve();

  private constructor(
    barrier: Storage,
    private readonly leaseTtls: LeaseTtls,
  ) {
    this.#barrier = barrier;
  }

  /** Loads the table, recording the built-in token method the first time. */
  static async load(barrier: Storage, leaseTtls = VAULT_LEASE_TTLS): Promise<AuthTable> {
    const table = new AuthTable(barrier, leaseTtls);
    const bytes = await barrier.get(AUTH_TABLE_KEY);
    table.#entries = bytes ? decodeJson<AuthMountEntry[]>(bytes) : [];
    if (!table.#entries.some((entry) => entry.type === "token")) {
      table.#entries.unshift(newEntry("token/", "token", "token based credentials"));
      await table.#persist();
    }
    for (const accessor of await barrier.list(LOCKOUTS_PREFIX)) {
      const bytes = await barrier.get(LOCKOUTS_PREFIX + accessor);
      for (const lockout of bytes ? decodeJson<StoredLockout[]>(bytes) : []) table.#lockout.restore(accessor, lockout);
    }
    return table;
  }

  entries(): AuthMountEntry[] {
    return [...this.#entries];
  }

  /** The method serving `path` (relative to "auth/", e.g. "userpass/login/alice"), or null. */
  route(path: string): { mounted: MountedAuth; relative: string } | null {
    const methods = this.#entries.filter((entry) => entry.type !== "token");
    const best = longestMountPrefix(methods, path, (entry) => entry.path);
    return best ? { mounted: this.#attach(best), relative: path.slice(best.path.length) } : null;
  }

  /**
   * `path` (relative to "auth/") with the name an auth method's path targets in canonical form;
   * unchanged when no method serves it.
   */
  canonicalPath(path: string): string {
    const route = this.route(path);
    return route ? route.mounted.entry.path + route.mounted.method.canonicalPath(route.relative) : path;
  }

  async enable(rawPath: string, data: Record<string, unknown>): Promise<void> {
    const path = normaliseMountPath(rawPath);
    if (!path) throw new LogicalError(400, "auth path cannot be empty");
    const type = typeof data.type === "string" ? data.type : "";
    if (type === "token") throw new LogicalError(400, "token credential backend cannot be instantiated");
    if (!Object.hasOwn(AUTH_METHODS, type))
      throw new LogicalError(400, `unknown auth method type "${type}" (Strongbox provides: ${Object.keys(AUTH_METHODS).join(", ")})`);
    const conflict = this.#entries.find((entry) => entry.path.startsWith(path) || path.startsWith(entry.path));
    if (conflict) throw new LogicalError(400, `path is already in use at ${conflict.path}`);
    const entry = newEntry(path, type, typeof data.description === "string" ? data.description : "");
    entry.config = tuneConfig(entry.config, data.config, this.leaseTtls);
    entry.local = data.local === true;
    entry.seal_wrap = data.seal_wrap === true;
    this.#entries.push(entry);
    await this.#persist();
  }

  /** Removes a method and its data; returns its entry (null if nothing was mounted there). */
  async disable(rawPath: string): Promise<MountEntry | null> {
    const path = normaliseMountPath(rawPath);
    const entry = this.#entries.find((e) => e.path === path);
    if (!entry) return null;
    if (entry.type === "token") throw new LogicalError(400, "token credential backend cannot be disabled");
    this.#entries = this.#entries.filter((e) => e !== entry);
    await this.#persist();
    await deleteTree(this.#attach(entry).storage, "");
    this.#lockout.forgetMount(entry.accessor);
    await this.#writeLockouts(entry.accessor, Date.now());
    return entry;
  }

  async tune(rawPath: string, data: Record<string, unknown>): Promise<void> {
    const entry = this.find(rawPath);
    entry.config = tuneConfig(entry.config, data, this.leaseTtls);
    if (typeof data.description === "string") entry.description = data.description;
    if (data.user_lockout_config !== undefined) {
      if (!supportsLockout(entry)) throw new LogicalError(400, `user lockout is supported by userpass and approle auth methods, not "${entry.type}"`);
      entry.user_lockout_config = tuneLockoutConfig(entry.user_lockout_config, data.user_lockout_config);
    }
    await this.#persist();
  }

  /** The aliases locked out now, by mount accessor (sys/locked-users). */
  lockedUsers(now: number): Map<string, string[]> {
    return this.#lockout.locked(now);
  }

  async unlockUser(accessor: string, alias: string): Promise<void> {
    this.#lockout.unlock(accessor, alias);
    await this.#writeLockouts(accessor, Date.now());
  }

  /** Rewrites a mount's lockout entry from memory (deleted when none is in force). */
  #writeLockouts(accessor: string, now: number): Promise<void> {
    const write = this.#lockoutWrites.then(async () => {
      const lockouts = this.#lockout.lockouts(accessor, now, MAX_STORED_LOCKOUTS);
      if (lockouts.length === 0) await this.#barrier.delete(LOCKOUTS_PREFIX + accessor);
      else await this.#barrier.put(LOCKOUTS_PREFIX + accessor, encodeJson(lockouts));
    });
    this.#lockoutWrites = write.catch(() => {});
    return write;
  }

  find(rawPath: string): AuthMountEntry {
    const path = normaliseMountPath(rawPath);
    const entry = this.#entries.find((e) => e.path === path);
    if (!entry) throw new LogicalError(400, `no auth method enabled at "${path}"`);
    return entry;
  }

  #attach(entry: AuthMountEntry): MountedAuth {
    return { entry, method: this.#withLockout(entry, AUTH_METHODS[entry.type]!), storage: storageView(this.#barrier, `${AUTH_DATA_PREFIX}${entry.uuid}/`) };
  }

  /** The method with its logins subject to user lockout: a locked-out login never reaches the method. */
  #withLockout(entry: AuthMountEntry, method: AuthMethod): AuthMethod {
    const lockout = this.#lockout;
    const writeLockouts = (now: number) => this.#writeLockouts(entry.accessor, now);
    return {
      ...method,
      async login(request) {
        const config = effectiveLockoutConfig(entry.user_lockout_config);
        const alias = method.lockoutAlias(request);
        if (config.disabled || alias === null) return method.login(request);
        const attempt = lockout.begin(entry.accessor, alias, config, request.now);
        try {
          const grant = await method.login(request);
          attempt.succeeded();
          return grant;
        } catch (error) {
          if (!(error instanceof InvalidCredentials)) attempt.abandoned();
          // Written before the client hears of the failure: the lockout holds on the next active. A
          // failed write (this node lost the lock) leaves the lockout in this node's memory only.
          else if (attempt.failed(request.now)) await writeLockouts(request.now).catch(() => {});
          throw error;
        }
      },
    };
  }

  async #persist(): Promise<void> {
    await this.#barrier.put(AUTH_TABLE_KEY, encodeJson(this.#entries));
  }
}

export function supportsLockout(entry: MountEntry): boolean {
  return entry.type === "userpass" || entry.type === "approle";
}

function newEntry(path: string, type: string, description: string): MountEntry {
  return {
    path,
    type,
    description,
    accessor: `auth_${type}_${toHex(crypto.getRandomValues(new Uint8Array(4)))}`,
    uuid: randomUuid(),
    config: { default_lease_ttl: 0, max_lease_ttl: 0 },
    options: {},
    local: false,
    seal_wrap: false,
  };
}
