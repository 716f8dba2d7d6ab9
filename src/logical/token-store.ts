import { invalidDuration, parseNonNegativeDuration } from "./fields.js";
import { decodeJson, encodeJson, randomBase62, rfc3339, toHex } from "./encoding.js";
import { LogicalError, type Storage } from "./types.js";

/** Vault's system-wide default and maximum lease TTL: 768h. */
export const SYSTEM_MAX_TTL_SECONDS = 768 * 3600;

/** What is stored for a token. The token itself is never stored: entries are keyed by its salted hash. */
export interface TokenEntry {
  accessor: string;
  policies: string[];
  path: string;
  meta: Record<string, string> | null;
  display_name: string;
  /** Remaining uses; 0 = unlimited; -1 = used up, revoked once the current request is done. */
  num_uses: number;
  /** Unix seconds. */
  creation_time: number;
  /** Seconds; 0 = never expires. */
  creation_ttl: number;
  /** Epoch ms; null = never expires. */
  expire_time: number | null;
  explicit_max_ttl: number;
  /** Seconds; renewals never extend past creation + this (an auth method's token_max_ttl). 0/absent = system max. */
  max_ttl?: number;
  period: number;
  renewable: boolean;
  orphan: boolean;
  /** Salted hash of the parent token, for revoke-tree; null for orphans. */
  parent: string | null;
  /** CIDR blocks the token may be used from (token_bound_cidrs of the role or user that issued it). */
  bound_cidrs?: string[];
}

export interface CreateTokenOptions {
  id?: string;
  policies: string[];
  ttl?: number;
  explicit_max_ttl?: number;
  period?: number;
  num_uses?: number;
  renewable?: boolean;
  /** Shown as is, e.g. "token-ci" or "userpass-alice". */
  display_name?: string;
  meta?: Record<string, string> | null;
  max_ttl?: number;
  bound_cidrs?: string[];
  path?: string;
  parent?: TokenEntry & { hash: string };
  orphan?: boolean;
}

const ENTRY_PREFIX = "id/";
const ACCESSOR_PREFIX = "accessor/";
const CHILD_PREFIX = "parent/";

/**
 * Service tokens ("hvs." + 24 base62 chars, as Vault ≥ 1.10) stored behind the barrier, keyed by an
 * HMAC-SHA256 of the token under a per-cluster salt so a storage dump reveals no usable token.
 */
export class TokenStore {
  readonly #storage: Storage;
  readonly #saltKey: CryptoKey;
  readonly #now: () => number;

  private constructor(storage: Storage, saltKey: CryptoKey, now: () => number) {
    this.#storage = storage;
    this.#saltKey = saltKey;
    this.#now = now;
  }

  /** Opens the store, creating its salt on first use. `storage` is a barrier view for the store. */
  static async open(storage: Storage, now: () => number = Date.now): Promise<TokenStore> {
    let salt = await storage.get("salt");
    if (!salt) {
      salt = crypto.getRandomValues(new Uint8Array(32));
      await storage.put("salt", salt);
    }
    const key = await crypto.subtle.importKey("raw", new Uint8Array(salt), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new TokenStore(storage, key, now);
  }

  async hash(value: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", this.#saltKey, new TextEncoder().encode(value));
    return toHex(new Uint8Array(mac));
  }

  async create(options: CreateTokenOptions): Promise<{ token: string; entry: TokenEntry }> {
    const token = options.id ?? `hvs.${randomBase62(24)}`;
    const hash = await this.hash(token);
    if (await this.#storage.get(ENTRY_PREFIX + hash)) throw new LogicalError(400, "cannot create a token with a duplicate ID");
    const nowMs = this.#now();
    const isRoot = options.policies.includes("root");
    const explicitMax = options.explicit_max_ttl ?? 0;
    const period = options.period ?? 0;
    let ttl = period || options.ttl || (isRoot ? 0 : SYSTEM_MAX_TTL_SECONDS);
    if (explicitMax > 0 && (ttl === 0 || ttl > explicitMax)) ttl = explicitMax;
    if (options.max_ttl && period === 0 && ttl > options.max_ttl) ttl = options.max_ttl;
    if (!isRoot && ttl > SYSTEM_MAX_TTL_SECONDS && period === 0) ttl = SYSTEM_MAX_TTL_SECONDS;
    const orphan = options.orphan ?? !options.parent;
    const entry: TokenEntry = {
      accessor: randomBase62(24),
      policies: [...new Set(options.policies)].sort(),
      path: options.path ?? "auth/token/create",
      meta: options.meta ?? null,
      display_name: options.display_name || (isRoot && !options.parent ? "root" : "token"),
      num_uses: options.num_uses ?? 0,
      creation_time: Math.floor(nowMs / 1000),
      creation_ttl: ttl,
      expire_time: ttl > 0 ? nowMs + ttl * 1000 : null,
      explicit_max_ttl: explicitMax,
      ...(options.max_ttl ? { max_ttl: options.max_ttl } : {}),
      period,
      renewable: ttl > 0 && (options.renewable ?? true),
      orphan,
      parent: orphan ? null : options.parent!.hash,
      ...(options.bound_cidrs?.length ? { bound_cidrs: options.bound_cidrs } : {}),
    };
    await this.#storage.put(ENTRY_PREFIX + hash, encodeJson(entry));
    await this.#storage.put(ACCESSOR_PREFIX + (await this.hash(entry.accessor)), new TextEncoder().encode(hash));
    if (entry.parent) await this.#storage.put(`${CHILD_PREFIX}${entry.parent}/${hash}`, new Uint8Array());
    return { token, entry };
  }

  /** The live entry for a token, or null when unknown, used up or expired (expired entries are removed). */
  async lookup(token: string): Promise<(TokenEntry & { hash: string }) | null> {
    if (!token) return null;
    return this.#lookupHash(await this.hash(token));
  }

  async lookupAccessor(accessor: string): Promise<(TokenEntry & { hash: string }) | null> {
    const hash = await this.#storage.get(ACCESSOR_PREFIX + (await this.hash(accessor)));
    return hash ? this.#lookupHash(new TextDecoder().decode(hash)) : null;
  }

  async #lookupHash(hash: string): Promise<(TokenEntry & { hash: string }) | null> {
    const bytes = await this.#storage.get(ENTRY_PREFIX + hash);
    if (!bytes) return null;
    const entry = decodeJson<TokenEntry>(bytes);
    if (entry.expire_time !== null && entry.expire_time <= this.#now()) {
      await this.#revokeHash(hash);
      return null;
    }
    if (entry.num_uses < 0) return null;
    return { ...entry, hash };
  }

  /**
   * Counts one use of a limited-use token, before its request runs (as Vault does, so a denied
   * request counts too). Returns true when that was the last use: the caller revokes the token once
   * the request is done, and meanwhile no other request can use it.
   */
  async use(entry: TokenEntry & { hash: string }): Promise<boolean> {
    if (entry.num_uses <= 0) return false;
    const { hash, ...stored } = entry;
    const remaining = entry.num_uses === 1 ? -1 : entry.num_uses - 1;
    await this.#storage.put(ENTRY_PREFIX + hash, encodeJson({ ...stored, num_uses: remaining }));
    return remaining === -1;
  }

  async renew(entry: TokenEntry & { hash: string }, increment?: number): Promise<TokenEntry> {
    if (!entry.renewable || entry.expire_time === null) throw new LogicalError(400, "lease is not renewable");
    const nowMs = this.#now();
    let ttl = entry.period || increment || entry.creation_ttl;
    const limits = [entry.explicit_max_ttl, entry.period ? 0 : (entry.max_ttl ?? 0)].filter((seconds) => seconds > 0);
    const maxSeconds = limits.length > 0 ? Math.min(...limits) : entry.period ? 0 : SYSTEM_MAX_TTL_SECONDS;
    if (maxSeconds > 0) {
      const remaining = entry.creation_time + maxSeconds - Math.floor(nowMs / 1000);
      ttl = Math.max(0, Math.min(ttl, remaining));
    }
    const { hash, ...stored } = entry;
    const renewed: TokenEntry = { ...stored, expire_time: nowMs + ttl * 1000 };
    await this.#storage.put(ENTRY_PREFIX + hash, encodeJson(renewed));
    return renewed;
  }

  /** Revokes a token and, as Vault does, every non-orphan descendant. */
  async revoke(entry: { hash: string }): Promise<void> {
    await this.#revokeHash(entry.hash);
  }

  /** Revokes only this token; its children become orphans (Vault's revoke-orphan). */
  async revokeOrphan(entry: { hash: string }): Promise<void> {
    for (const child of await this.#storage.list(`${CHILD_PREFIX}${entry.hash}/`)) {
      const bytes = await this.#storage.get(ENTRY_PREFIX + child);
      if (bytes) await this.#storage.put(ENTRY_PREFIX + child, encodeJson({ ...decodeJson<TokenEntry>(bytes), parent: null, orphan: true }));
      await this.#storage.delete(`${CHILD_PREFIX}${entry.hash}/${child}`);
    }
    await this.#revokeHash(entry.hash);
  }

  /** Revokes every token whose path starts with `prefix` (all tokens of an auth mount being disabled). */
  async revokeByPathPrefix(prefix: string): Promise<void> {
    for (const hash of await this.#storage.list(ENTRY_PREFIX)) {
      const bytes = await this.#storage.get(ENTRY_PREFIX + hash);
      if (bytes && decodeJson<TokenEntry>(bytes).path.startsWith(prefix)) await this.#revokeHash(hash);
    }
  }

  async #revokeHash(hash: string): Promise<void> {
    for (const child of await this.#storage.list(`${CHILD_PREFIX}${hash}/`)) {
      await this.#revokeHash(child);
      await this.#storage.delete(`${CHILD_PREFIX}${hash}/${child}`);
    }
    const bytes = await this.#storage.get(ENTRY_PREFIX + hash);
    if (!bytes) return;
    const entry = decodeJson<TokenEntry>(bytes);
    await this.#storage.delete(ACCESSOR_PREFIX + (await this.hash(entry.accessor)));
    if (entry.parent) await this.#storage.delete(`${CHILD_PREFIX}${entry.parent}/${hash}`);
    await this.#storage.delete(ENTRY_PREFIX + hash);
  }

  /** Seconds until the token expires; 0 for tokens that never do. */
  #remainingSeconds(entry: TokenEntry): number {
    return entry.expire_time === null ? 0 : Math.max(0, Math.round((entry.expire_time - this.#now()) / 1000));
  }

  /** Vault's token lookup response body. */
  describe(entry: TokenEntry, token?: string): Record<string, unknown> {
    return {
      accessor: entry.accessor,
      creation_time: entry.creation_time,
      creation_ttl: entry.creation_ttl,
      display_name: entry.display_name,
      entity_id: "",
      expire_time: entry.expire_time === null ? null : rfc3339(new Date(entry.expire_time)),
      explicit_max_ttl: entry.explicit_max_ttl,
      id: token ?? "",
      issue_time: rfc3339(new Date(entry.creation_time * 1000)),
      meta: entry.meta,
      num_uses: Math.max(0, entry.num_uses),
      orphan: entry.orphan,
      path: entry.path,
      period: entry.period || undefined,
      policies: entry.policies,
      renewable: entry.renewable,
      ttl: this.#remainingSeconds(entry),
      type: "service",
      ...(entry.bound_cidrs ? { bound_cidrs: entry.bound_cidrs } : {}),
    };
  }

  /** Vault's `auth` block returned on token creation and renewal. */
  authBlock(entry: TokenEntry, token: string): Record<string, unknown> {
    return {
      client_token: token,
      accessor: entry.accessor,
      policies: entry.policies,
      token_policies: entry.policies,
      metadata: entry.meta,
      lease_duration: this.#remainingSeconds(entry),
      renewable: entry.renewable,
      entity_id: "",
      token_type: "service",
      orphan: entry.orphan,
      mfa_requirement: null,
      num_uses: Math.max(0, entry.num_uses),
    };
  }
}

/** Parses the optional TTL-ish fields of a token create request. */
export function tokenDurations(data: Record<string, unknown>): { ttl?: number; explicit_max_ttl?: number; period?: number } {
  const read = (field: string) => {
    const value = data[field];
    if (value === null) throw invalidDuration(field, value);
    return value === "" ? undefined : parseNonNegativeDuration(field, value);
  };
  return { ttl: read("ttl"), explicit_max_ttl: read("explicit_max_ttl"), period: read("period") };
}
