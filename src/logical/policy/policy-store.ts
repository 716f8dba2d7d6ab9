/**
 * ACL policies behind the barrier at `sys/policy/<name>`, with Vault's two built-ins: `default`
 * (created on first open, editable, not deletable) and `root` (implicit, neither editable nor
 * deletable). Parsed policies (and misses) and the ACLs built from them are cached in bounded LRUs, so
 * looking up many distinct names cannot grow memory without limit; every write or delete
 * through this store invalidates the cache, and `invalidate()` drops it when another node may have
 * changed storage (e.g. on becoming active).
 */
import { Acl } from "../acl.js";
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { LruCache } from "../../sdk/lru.js";
import { requireCanonicalName } from "../../sdk/names.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import { type Policy, PolicyParseError, parsePolicy } from "./policy.js";

const POLICY_PREFIX = "sys/policy/";

/** What every token gets unless created with no_default_policy: managing itself, nothing else. */
export const DEFAULT_POLICY_TEXT = `# Strongbox's built-in "default" policy, attached to every token unless it is
# created without it. It lets a token look after itself; edit it to give every
# token more.

# Read the calling token's own properties.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# Extend the calling token's own lease.
path "auth/token/renew-self" {
  capabilities = ["update"]
}

# Revoke the calling token.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Ask what the calling token may do on given paths.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# The calling token's own cubbyhole (no other token can see it).
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Wrap data in a single-use token, and look up or unwrap a wrapping token.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

# Look up and renew leases (the calling token's own lease included).
path "sys/leases/lookup" {
  capabilities = ["update"]
}
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/renew" {
  capabilities = ["update"]
}
`;

/**
 * The built-in policy of wrapping tokens: read the wrapped response from their own cubbyhole,
 * or unwrap it. Neither editable nor deletable, as in Vault.
 */
const RESPONSE_WRAPPING_POLICY_TEXT = `path "cubbyhole/response" {
  capabilities = ["create", "read"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}
`;
const RESPONSE_WRAPPING = "response-wrapping";

/** Entries kept by each of the policy and ACL caches (Vault's policy cache holds as many). */
export const POLICY_CACHE_SIZE = 1024;

/** Fills in templated policy paths for one entity; `key` changes whenever the result could. */
export interface Templating {
  key: string;
  resolve(path: string): string | null;
}

interface StoredPolicy {
  name: string;
  policy: string;
}

export class PolicyStore {
  readonly #storage: Storage;
  readonly #policies = new LruCache<string, Policy | null>(POLICY_CACHE_SIZE);
  readonly #acls = new LruCache<string, Acl>(POLICY_CACHE_SIZE);

  private constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** Opens the store over the barrier, writing the `default` policy the first time. */
  static async open(barrier: Storage): Promise<PolicyStore> {
    const store = new PolicyStore(barrier);
    if (!(await barrier.get(POLICY_PREFIX + "default"))) await store.#write("default", DEFAULT_POLICY_TEXT);
    return store;
  }

  invalidate(): void {
    this.#policies.clear();
    this.#acls.clear();
  }

  /**
   * A policy by name, or null; `root` reads as an empty policy, as in Vault. Names are matched
   * case-insensitively: tokens may carry policy names in any case.
   */
  async get(rawName: string): Promise<Policy | null> {
    const name = rawName.trim().toLowerCase();
    if (name === "root") return { name, text: "", rules: [] };
    if (name === RESPONSE_WRAPPING) return parsePolicy(name, RESPONSE_WRAPPING_POLICY_TEXT);
    if (name === "" || name.includes("/")) return null;
    if (this.#policies.has(name)) return this.#policies.get(name)!;
    const bytes = await this.#storage.get(POLICY_PREFIX + name);
    const stored = bytes ? decodeJson<StoredPolicy>(bytes) : null;
    const policy = stored ? parsePolicy(stored.name, stored.policy) : null;
    this.#policies.set(name, policy);
    return policy;
  }

  /** Validates and stores a policy; 400 with the parser's message when the text is invalid. */
  async put(rawName: string, text: string): Promise<void> {
    const name = policyName(rawName);
    if (name === "root" || name === RESPONSE_WRAPPING) throw new LogicalError(400, `cannot update ${name} policy`);
    try {
      parsePolicy(name, text);
    } catch (error) {
      if (error instanceof PolicyParseError) throw new LogicalError(400, error.message);
      throw error;
    }
    await this.#write(name, text);
  }

  async delete(rawName: string): Promise<void> {
    const name = policyName(rawName);
    if (name === "root" || name === "default" || name === RESPONSE_WRAPPING) throw new LogicalError(400, `cannot delete ${name} policy`);
    await this.#storage.delete(POLICY_PREFIX + name);
    this.invalidate();
  }

  /** Stored policy names, sorted, then `root` (as Vault lists them). */
  async list(): Promise<string[]> {
    const names = (await this.#storage.list(POLICY_PREFIX)).filter((key) => !key.endsWith("/"));
    return [...names.sort(), "root"];
  }

  /**
   * The ACL of a token's policies; policies that do not exist grant nothing. Templated paths are
   * filled in by `templating` (the caller's entity); an ACL with such paths is kept per entity state.
   */
  async acl(names: readonly string[], templating?: Templating | null): Promise<Acl> {
    if (names.includes("root")) return Acl.root();
    const key = policySetKey(names);
    const cached = this.#acls.get(key);
    if (cached) return cached;
    const perEntityKey = `${key}\u0000${templating?.key ?? ""}`;
    const perEntity = this.#acls.get(perEntityKey);
    if (perEntity) return perEntity;
    const policies = (await Promise.all(names.map((name) => this.get(name)))).filter((p): p is Policy => p !== null);
    const templated = policies.some((policy) => policy.rules.some((rule) => rule.templated));
    const acl = Acl.fromPolicies(policies, templating?.resolve);
    this.#acls.set(templated ? perEntityKey : key, acl);
    return acl;
  }

  async #write(name: string, text: string): Promise<void> {
    await this.#storage.put(POLICY_PREFIX + name, encodeJson({ name, policy: text } satisfies StoredPolicy));
    this.invalidate();
  }
}

/** Keys of frozen policy lists (a stored token's, read through SharedDecoding): each is sorted and joined once. */
const frozenSetKeys = new WeakMap<readonly string[], string>();

/** The ACL memo's key for a set of policy names, in any order. */
function policySetKey(names: readonly string[]): string {
  if (!Object.isFrozen(names)) return [...names].sort().join("\n");
  let key = frozenSetKeys.get(names);
  if (key === undefined) {
    key = [...names].sort().join("\n");
    frozenSetKeys.set(names, key);
  }
  return key;
}

export const POLICY_NAME = "policy name";

/** Policy names are case-insensitive in Vault and stored lower-case; callers pass the canonical form (names.ts). */
function policyName(raw: string): string {
  return requireCanonicalName(raw, POLICY_NAME);
}
