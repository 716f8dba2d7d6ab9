import { invalidToken } from "./acl.js";
import { MAX_DURATION_SECONDS } from "../sdk/fields.js";
import { type LeaseTtls, VAULT_LEASE_TTLS } from "../sdk/lease-ttls.js";
import { decodeJson, encodeJson, randomBase62, rfc3339, SharedDecoding, toHex } from "../sdk/encoding.js";
import { readShared } from "../sdk/types.js";
import { KeyedLock } from "../sdk/keyed-lock.js";
import { LruCache } from "../sdk/lru.js";
import { LogicalError, type Storage } from "../sdk/types.js";

/** Token entries as read: every request with a token reads its entry and its ancestors'. */
const storedEntries = new SharedDecoding((bytes) => withCappedDurations(decodeJson<TokenEntry>(bytes)));

/** Tokens (and accessors) whose HMAC is remembered. */
const HASH_MEMO_ENTRIES = 4096;

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
  response_wrapping?: true; // made by response wrapping, which alone sets it: sys/wrapping/* take no other token
  /** The identity entity the token acts for (a login's, or its parent's): its groups add policies. */
  entity_id?: string;
}

export interface CreateTokenOptions extends Pick<TokenEntry, "response_wrapping" | "entity_id"> {
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
  /** Address binding (a login's or token role's token_bound_cidrs); without one, children inherit their parent's. */
  bound_cidrs?: string[];
  path?: string;
  /** The token asking for this one: it becomes the parent unless `orphan`. */
  parent?: TokenEntry & { hash: string };
  orphan?: boolean;
}

type LiveEntry = TokenEntry & { hash: string };

const ENTRY_PREFIX = "id/";
const ACCESSOR_PREFIX = "accessor/";
const CHILD_PREFIX = "parent/";
/**
 * `expiry/<hour>/<minute>/<hash>` (hours and minutes since the epoch, zero-padded so they sort):
 * the sweep lists only the buckets already due instead of reading every token.
 */
const EXPIRY_PREFIX = "expiry/";
/** Present once every stored token with an expiry has its `expiry/` entry (tokens from before the index get one in the first sweep). */
const EXPIRY_INDEXED_MARKER = "expiry-indexed";

/**
 * Service tokens ("hvs." + 24 base62 chars, as Vault ≥ 1.10) stored behind the barrier, keyed by an
 * HMAC-SHA256 of the token under a per-cluster salt so a storage dump reveals no usable token.
 */
export class TokenStore {
  readonly #storage: Storage;
  readonly #saltKey: CryptoKey;
  /**
   * Recent HMACs, so a client's every request does not cost a WebCrypto call. The salt never changes
   * while the store is open; the store (and this memo) goes when the node seals or changes role.
   */
  readonly #hashes = new LruCache<string, string>(HASH_MEMO_ENTRIES);
  readonly #now: () => number;
  /**
   * Serialises each token's read-modify-write (use counts, renewals, revocation) by its hash. An
   * in-process lock is enough: only the active node serves token requests, and its storage writes
   * are fenced by the HA lock epoch, so no other node writes token entries meanwhile.
   */
  readonly #entryLocks = new KeyedLock();
  #expiryIndexed = false;
  /** Told each revoked token's hash, after its entry is gone (the cubbyhole empties itself). */
  #revocationListeners: ((hash: string) => Promise<void>)[] = [];

  private constructor(
    storage: Storage,
    saltKey: CryptoKey,
    now: () => number,
    readonly leaseTtls: LeaseTtls,
  ) {
    this.#storage = storage;
    this.#saltKey = saltKey;
    this.#now = now;
  }

  /** Opens the store, creating its salt on first use. `storage` is a barrier view for the store. */
  static async open(storage: Storage, now: () => number = Date.now, leaseTtls = VAULT_LEASE_TTLS): Promise<TokenStore> {
    let salt = await storage.get("salt");
    if (!salt) {
      salt = crypto.getRandomValues(new Uint8Array(32));
      await storage.put("salt", salt);
      await storage.put(EXPIRY_INDEXED_MARKER, new Uint8Array());
    }
    const key = await crypto.subtle.importKey("raw", new Uint8Array(salt), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new TokenStore(storage, key, now, leaseTtls);
  }

  onRevoked(listener: (hash: string) => Promise<void>): void {
    this.#revocationListeners.push(listener);
  }

  async hash(value: string): Promise<string> {
    const known = this.#hashes.get(value);
    if (known !== undefined) return known;
    const mac = await crypto.subtle.sign("HMAC", this.#saltKey, new TextEncoder().encode(value));
    const hash = toHex(new Uint8Array(mac));
    this.#hashes.set(value, hash);
    return hash;
  }

  async create(options: CreateTokenOptions): Promise<{ token: string; entry: TokenEntry }> {
    const token = options.id ?? `hvs.${randomBase62(24)}`;
    const hash = await this.hash(token);
    if (await this.#storage.get(ENTRY_PREFIX + hash)) throw new LogicalError(400, "cannot create a token with a duplicate ID");
    const nowMs = this.#now();
    const isRoot = options.policies.includes("root");
    const explicitMax = options.explicit_max_ttl ?? 0;
    const period = options.period ?? 0;
    let ttl = period || options.ttl || (isRoot ? 0 : this.leaseTtls.defaultSeconds);
    if (explicitMax > 0 && (ttl === 0 || ttl > explicitMax)) ttl = explicitMax;
    if (options.max_ttl && period === 0 && ttl > options.max_ttl) ttl = options.max_ttl;
    if (!isRoot && !options.max_ttl && ttl > this.leaseTtls.maxSeconds && period === 0) ttl = this.leaseTtls.maxSeconds;
    // Otherwise a root token given a TTL could outlive it through a child that never expires.
    if (ttl === 0 && options.parent && options.parent.expire_time !== null) {
      throw new LogicalError(400, "expiring root tokens cannot create non-expiring root tokens");
    }
    const orphan = options.orphan ?? !options.parent;
    const entityId = options.entity_id ?? options.parent?.entity_id;
    // As in Vault, a child is bound to its parent's addresses (token create takes no bound_cidrs of its
    // own, so a child cannot widen them), and a non-expiring token is never address-bound.
    const boundCidrs = ttl === 0 ? undefined : orphan || options.bound_cidrs ? options.bound_cidrs : options.parent!.bound_cidrs;
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
      ...(boundCidrs?.length ? { bound_cidrs: boundCidrs } : {}),
      ...(options.response_wrapping && { response_wrapping: true }),
      ...(entityId && { entity_id: entityId }), // as in Vault, a child acts for its parent's entity
    };
    await this.#storage.put(ENTRY_PREFIX + hash, encodeJson(entry));
    await this.#storage.put(ACCESSOR_PREFIX + (await this.hash(entry.accessor)), new TextEncoder().encode(hash));
    if (entry.parent) await this.#storage.put(`${CHILD_PREFIX}${entry.parent}/${hash}`, new Uint8Array());
    if (entry.expire_time !== null) await this.#storage.put(expiryKey(entry.expire_time, hash), new Uint8Array());
    return { token, entry };
  }

  /**
   * The live entry for a token, or null when unknown, used up or expired, or when its parent or any
   * ancestor is expired or gone (expired tokens are revoked here, with their descendants).
   */
  async lookup(token: string): Promise<LiveEntry | null> {
    if (!token) return null;
    return this.#lookupHash(await this.hash(token));
  }

  async lookupAccessor(accessor: string): Promise<LiveEntry | null> {
    const hash = await this.#storage.get(ACCESSOR_PREFIX + (await this.hash(accessor)));
    return hash ? this.#lookupHash(new TextDecoder().decode(hash)) : null;
  }

  async #lookupHash(hash: string): Promise<LiveEntry | null> {
    const entry = await this.#read(hash);
    if (!entry) return null;
    if (this.#isExpired(entry)) {
      await this.#revokeHash(hash);
      return null;
    }
    if (entry.num_uses < 0) return null;
    if (!(await this.#ancestorsLive(hash, entry))) return null;
    return { ...entry, hash };
  }

  /**
   * Whether every ancestor of a token is live, so a child never outlives its parent even before the
   * expiry sweep has run. An expired ancestor is revoked with its tree; a missing one (its revocation
   * was interrupted, or raced this token's creation) takes down the subtree left below it.
   */
  async #ancestorsLive(hash: string, entry: TokenEntry): Promise<boolean> {
    let topmost = hash;
    let parentHash = entry.parent;
    while (parentHash) {
      const parent = await this.#read(parentHash);
      if (!parent) {
        await this.#revokeHash(topmost);
        return false;
      }
      if (this.#isExpired(parent)) {
        await this.#revokeHash(parentHash);
        return false;
      }
      // A used-up ancestor is being revoked, with this token, by the request that used it up.
      if (parent.num_uses < 0) return false;
      topmost = parentHash;
      parentHash = parent.parent;
    }
    return true;
  }

  /**
   * Counts one use of a limited-use token, before its request runs (as Vault does, so a denied
   * request counts too). Returns true when that was the last use: the caller revokes the token once
   * the request is done, and meanwhile no other request can use it. The count is re-read under the
   * token's lock, so concurrent requests cannot spend the same use twice: the losers get 403.
   */
  async use(entry: LiveEntry): Promise<boolean> {
    if (entry.num_uses === 0) return false; // unlimited stays unlimited: no write, no lock
    return this.#entryLocks.run(entry.hash, async () => {
      const current = await this.#read(entry.hash);
      if (!current || current.num_uses <= 0) throw invalidToken();
      const remaining = current.num_uses === 1 ? -1 : current.num_uses - 1;
      await this.#storage.put(ENTRY_PREFIX + entry.hash, encodeJson({ ...current, num_uses: remaining }));
      return remaining === -1;
    });
  }

  async renew(entry: LiveEntry, increment?: number): Promise<TokenEntry> {
    if (!entry.renewable || entry.expire_time === null) throw new LogicalError(400, "lease is not renewable");
    // Re-read under the lock so a renewal never writes back a stale use count.
    return this.#entryLocks.run(entry.hash, async () => {
      const current = await this.#read(entry.hash);
      if (!current || current.expire_time === null) throw new LogicalError(400, "invalid token");
      const nowMs = this.#now();
      let ttl = current.period || increment || current.creation_ttl;
      const limits = [current.explicit_max_ttl, current.period ? 0 : (current.max_ttl ?? 0)].filter((seconds) => seconds > 0);
      const maxSeconds = limits.length > 0 ? Math.min(...limits) : current.period ? 0 : this.leaseTtls.maxSeconds;
      if (maxSeconds > 0) {
        const remaining = current.creation_time + maxSeconds - Math.floor(nowMs / 1000);
        ttl = Math.max(0, Math.min(ttl, remaining));
      }
      const renewed: TokenEntry = { ...current, expire_time: nowMs + ttl * 1000 };
      const [previousKey, nextKey] = [expiryKey(current.expire_time, entry.hash), expiryKey(renewed.expire_time!, entry.hash)];
      await this.#storage.put(nextKey, new Uint8Array());
      await this.#storage.put(ENTRY_PREFIX + entry.hash, encodeJson(renewed));
      if (previousKey !== nextKey) await this.#storage.delete(previousKey);
      return renewed;
    });
  }

  /** Revokes a token and, as Vault does, every non-orphan descendant. */
  async revoke(entry: { hash: string }): Promise<void> {
    await this.#revokeHash(entry.hash);
  }

  /** Revokes only this token; its children become orphans (Vault's revoke-orphan). */
  async revokeOrphan(entry: { hash: string }): Promise<void> {
    for (const child of await this.#storage.list(`${CHILD_PREFIX}${entry.hash}/`)) {
      await this.#entryLocks.run(child, async () => {
        const current = await this.#read(child);
        if (current) await this.#storage.put(ENTRY_PREFIX + child, encodeJson({ ...current, parent: null, orphan: true }));
      });
      await this.#storage.delete(`${CHILD_PREFIX}${entry.hash}/${child}`);
    }
    await this.#revokeHash(entry.hash);
  }

  /** Every stored token whose path starts with `prefix` (a full scan: for disabling an auth mount and sys/leases, not hot paths). */
  async withPathPrefix(prefix: string): Promise<LiveEntry[]> {
    const found: LiveEntry[] = [];
    for (const hash of await this.#storage.list(ENTRY_PREFIX)) {
      const entry = await this.#read(hash);
      if (entry?.path.startsWith(prefix)) found.push({ ...entry, hash });
    }
    return found;
  }

  /**
   * Vault's expiration manager for tokens: revokes every expired token with its descendants and
   * returns how many tokens were revoked. Meant to run every few seconds on the active node; it
   * lists only the expiry buckets already due, so its cost follows the number of expired tokens.
   */
  async revokeExpired(): Promise<number> {
    await this.#indexUnindexedExpiries();
    const nowMs = this.#now();
    const [dueHour, dueMinute] = expiryBuckets(nowMs);
    let revoked = 0;
    for (const hourFolder of await this.#storage.list(EXPIRY_PREFIX)) {
      if (hourFolder.slice(0, -1) > dueHour) break;
      for (const minuteFolder of await this.#storage.list(EXPIRY_PREFIX + hourFolder)) {
        if (minuteFolder.slice(0, -1) > dueMinute) break;
        const folder = EXPIRY_PREFIX + hourFolder + minuteFolder;
        for (const hash of await this.#storage.list(folder)) {
          const entry = await this.#read(hash);
          if (entry && this.#isExpired(entry)) revoked += await this.#revokeHash(hash);
          // A renewed token's old bucket entry, or one whose token is already gone.
          else if (!entry || entry.expire_time === null || expiryKey(entry.expire_time, hash) !== folder + hash) await this.#storage.delete(folder + hash);
        }
      }
    }
    return revoked;
  }

  /** Gives tokens stored before the expiry index existed their index entry, once per store. */
  async #indexUnindexedExpiries(): Promise<void> {
    if (this.#expiryIndexed) return;
    if (!(await this.#storage.get(EXPIRY_INDEXED_MARKER))) {
      for (const hash of await this.#storage.list(ENTRY_PREFIX)) {
        const entry = await this.#read(hash);
        if (entry && entry.expire_time !== null) await this.#storage.put(expiryKey(entry.expire_time, hash), new Uint8Array());
      }
      await this.#storage.put(EXPIRY_INDEXED_MARKER, new Uint8Array());
    }
    this.#expiryIndexed = true;
  }

  /** Revokes a token and its descendants; returns how many entries were removed. */
  async #revokeHash(hash: string): Promise<number> {
    let removed = 0;
    for (const child of await this.#storage.list(`${CHILD_PREFIX}${hash}/`)) {
      removed += await this.#revokeHash(child);
      await this.#storage.delete(`${CHILD_PREFIX}${hash}/${child}`);
    }
    const removedSelf = await this.#entryLocks.run(hash, async () => {
      const entry = await this.#read(hash);
      if (!entry) return false;
      await this.#storage.delete(ACCESSOR_PREFIX + (await this.hash(entry.accessor)));
      if (entry.parent) await this.#storage.delete(`${CHILD_PREFIX}${entry.parent}/${hash}`);
      await this.#storage.delete(ENTRY_PREFIX + hash);
      if (entry.expire_time !== null) await this.#storage.delete(expiryKey(entry.expire_time, hash));
      return true;
    });
    if (removedSelf) for (const listener of this.#revocationListeners) await listener(hash);
    return removed + (removedSelf ? 1 : 0);
  }

  /** A stored entry, shared and frozen: a change is written as a new entry (`{ ...current, ... }`). */
  async #read(hash: string): Promise<Readonly<TokenEntry> | null> {
    const bytes = await readShared(this.#storage, ENTRY_PREFIX + hash);
    return bytes ? storedEntries.decode(bytes) : null;
  }

  #isExpired(entry: TokenEntry): boolean {
    return entry.expire_time !== null && entry.expire_time <= this.#now();
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
      entity_id: entry.entity_id ?? "",
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
      entity_id: entry.entity_id ?? "",
      token_type: "service",
      orphan: entry.orphan,
      mfa_requirement: null,
      num_uses: Math.max(0, entry.num_uses),
    };
  }
}

/** The hour and minute buckets (since the epoch, zero-padded to sort as text) of an instant. */
function expiryBuckets(epochMs: number): [string, string] {
  const minutes = Math.floor(epochMs / 60_000);
  return [String(Math.floor(minutes / 60)).padStart(8, "0"), String(minutes).padStart(10, "0")];
}

function expiryKey(expireMs: number, hash: string): string {
  const [hour, minute] = expiryBuckets(expireMs);
  return `${EXPIRY_PREFIX}${hour}/${minute}/${hash}`;
}

/**
 * Entries written before durations were capped may hold values no date can show (a `ttl` of 1e300):
 * read them capped at the longest duration, so their lookups answer instead of failing.
 */
function withCappedDurations(entry: TokenEntry): TokenEntry {
  const cap = (seconds: number) => (Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), MAX_DURATION_SECONDS) : MAX_DURATION_SECONDS);
  const latestExpiry = entry.creation_time * 1000 + MAX_DURATION_SECONDS * 1000;
  return {
    ...entry,
    creation_ttl: cap(entry.creation_ttl),
    explicit_max_ttl: cap(entry.explicit_max_ttl),
    period: cap(entry.period),
    ...(entry.max_ttl !== undefined && { max_ttl: cap(entry.max_ttl) }),
    expire_time: entry.expire_time === null ? null : Math.min(entry.expire_time, latestExpiry),
  };
}
