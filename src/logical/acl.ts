/**
 * Authorisation: the ACL a token's policies add up to, and the one check every authenticated
 * request goes through (`authorise`). Matching follows Vault's rules:
 *
 * - an exact path rule wins outright;
 * - otherwise, of the glob (`foo/*`) and segment-wildcard (`foo/+/bar`) rules that match, the most
 *   specific wins: the later its first wildcard, then a non-glob over a glob, then fewer `+`
 *   segments, then the longer pattern, then the lexically greater one;
 * - several policies naming the same path pattern add their capabilities up, except that `deny`
 *   on that pattern in any of them denies it;
 * - a LIST of `foo/` also matches a rule written for `foo` (with or without wildcards).
 *
 * Root-protected ("sudo") paths additionally need the `sudo` capability.
 */
import { CAPABILITY_BITS, capabilityNames, type Policy } from "./policy/policy.js";
import { LogicalError, type Operation, permissionDenied } from "../sdk/types.js";

/** Vault's body for a request with an unknown, expired or revoked token. */
const INVALID_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n";

export function invalidToken(): LogicalError {
  return new LogicalError(403, INVALID_TOKEN);
}

export interface AuthorisationRequest {
  path: string;
  operation: Operation;
  /**
   * Whether the target of a write exists (Vault's existence check: creating needs "create",
   * changing needs "update"); null for paths without such a check, where writes need "update".
   */
  exists?: () => Promise<boolean | null>;
  /** The endpoint needs sudo besides the operation's capability (its declaration says so). */
  sudo?: boolean;
}

/** The single authorisation check of the core; throws the 403 Vault gives. */
export async function authorise(acl: Acl, request: AuthorisationRequest): Promise<void> {
  if (acl.isRoot) return;
  const list = request.operation === "list";
  const granted = acl.grantedAt(list && !request.path.endsWith("/") ? `${request.path}/` : request.path, list);
  if (granted === null || (request.sudo && !(granted & CAPABILITY_BITS.sudo))) throw permissionDenied();
  if (!(granted & (await requiredCapability(request, granted)))) throw permissionDenied();
}

async function requiredCapability({ operation, exists }: AuthorisationRequest, granted: number): Promise<number> {
  if (operation !== "create" && operation !== "update") return CAPABILITY_BITS[operation];
  const canCreate = (granted & CAPABILITY_BITS.create) !== 0;
  const canUpdate = (granted & CAPABILITY_BITS.update) !== 0;
  // Only look the target up when the answer changes the outcome.
  if (!exists || canCreate === canUpdate) return canUpdate ? CAPABILITY_BITS.update : CAPABILITY_BITS.create;
  return (await exists()) === false ? CAPABILITY_BITS.create : CAPABILITY_BITS.update;
}

interface Candidate {
  /** Offset of the first `*` or `+` in the pattern. */
  firstWildcard: number;
  isGlob: boolean;
  wildcardSegments: number;
  /** The pattern without a trailing `*`. */
  pattern: string;
  capabilities: number;
}

/** The merged path rules of a set of policies. */
export class Acl {
  readonly isRoot: boolean;
  readonly #exact = new Map<string, number>();
  /** Glob rules without wildcard segments, keyed by the prefix (the `*` removed). */
  readonly #prefix = new Map<string, number>();
  /** Rules with `+` segments, keyed by the full pattern (a trailing `*` kept). */
  readonly #segment = new Map<string, number>();

  private constructor(isRoot: boolean) {
    this.isRoot = isRoot;
  }

  static root(): Acl {
    return new Acl(true);
  }

  /**
   * `resolve` fills in a templated path from the calling token's entity; a path it cannot fill (or
   * any templated path, without it) matches nothing, as in Vault.
   */
  static fromPolicies(policies: readonly Policy[], resolve?: (path: string) => string | null): Acl {
    const acl = new Acl(false);
    for (const policy of policies) {
      for (const rule of policy.rules) {
        const path = rule.templated ? resolve?.(rule.path) : rule.path;
        if (path === undefined || path === null) continue;
        const { capabilities } = rule;
        if (path.split("/").includes("+")) merge(acl.#segment, path, capabilities);
        else if (path.endsWith("*")) merge(acl.#prefix, path.slice(0, -1), capabilities);
        else merge(acl.#exact, path, capabilities);
      }
    }
    return acl;
  }

  /**
   * The capability bits the rule governing `path` grants (a deny rule: only the deny bit), or null
   * when no rule matches. `list` applies the LIST fallbacks to the path without its trailing "/".
   */
  grantedAt(path: string, list: boolean): number | null {
    const exact = this.#exact.get(path) ?? (list ? this.#exact.get(path.replace(/\/$/, "")) : undefined);
    if (exact !== undefined) return exact;
    const best = this.#bestNonExact(path);
    if (best) return best.capabilities;
    if (list && path.endsWith("/")) return this.#bestNonExact(path.slice(0, -1))?.capabilities ?? null;
    return null;
  }

  /** Whether the token holds root, or sudo on `path` (what token creation options require). */
  hasSudo(path: string): boolean {
    return this.isRoot || ((this.grantedAt(path, false) ?? 0) & CAPABILITY_BITS.sudo) !== 0;
  }

  /** Capability names on `path` as sys/capabilities reports them: sorted, "root", or ["deny"]. */
  capabilities(path: string): string[] {
    if (this.isRoot) return ["root"];
    const granted = this.grantedAt(path, true) ?? 0;
    const names = capabilityNames(granted).filter((name) => name !== "deny");
    return granted & CAPABILITY_BITS.deny || names.length === 0 ? ["deny"] : names.sort();
  }

  /**
   * Whether any rule grants something (not deny) on or below `mountPath` ("secret/"): the test
   * Vault applies before telling a token which mount serves a path.
   */
  hasAccessUnder(mountPath: string): boolean {
    if (this.isRoot || !this.capabilities(mountPath).includes("deny")) return true;
    const grants = (bits: number) => bits !== 0 && !(bits & CAPABILITY_BITS.deny);
    for (const rules of [this.#exact, this.#prefix]) {
      for (const [path, bits] of rules) if (path.startsWith(mountPath) && grants(bits)) return true;
    }
    const mountSegments = mountPath.replace(/\/$/, "").split("/");
    for (const [pattern, bits] of this.#segment) {
      const isGlob = pattern.endsWith("*");
      const segments = pattern.replace(/\*$/, "").split("/");
      const reachesMount = mountSegments.every((segment, i) => {
        const part = segments[i];
        if (part === undefined) return isGlob; // a shorter pattern reaches below the mount only as a glob
        return part === "+" || part === segment || (isGlob && i === segments.length - 1 && segment.startsWith(part));
      });
      if (reachesMount && grants(bits)) return true;
    }
    return false;
  }

  #bestNonExact(path: string): Candidate | null {
    let best: Candidate | null = null;
    let longestPrefix: string | null = null;
    for (const prefix of this.#prefix.keys()) {
      if (path.startsWith(prefix) && (longestPrefix === null || prefix.length > longestPrefix.length)) longestPrefix = prefix;
    }
    if (longestPrefix !== null) {
      best = { firstWildcard: longestPrefix.length, isGlob: true, wildcardSegments: 0, pattern: longestPrefix, capabilities: this.#prefix.get(longestPrefix)! };
    }
    for (const [pattern, capabilities] of this.#segment) {
      const candidate = matchSegments(pattern, path, capabilities);
      if (candidate && (!best || outranks(candidate, best))) best = candidate;
    }
    return best;
  }
}

function merge(rules: Map<string, number>, key: string, capabilities: number): void {
  const existing = rules.get(key);
  if (existing === undefined) rules.set(key, capabilities);
  else if ((existing | capabilities) & CAPABILITY_BITS.deny) rules.set(key, CAPABILITY_BITS.deny);
  else rules.set(key, existing | capabilities);
}

/** Matches a pattern with `+` segments (and maybe a trailing `*`) against a request path. */
function matchSegments(fullPattern: string, path: string, capabilities: number): Candidate | null {
  const isGlob = fullPattern.endsWith("*");
  const pattern = isGlob ? fullPattern.slice(0, -1) : fullPattern;
  const patternParts = pattern.split("/");
  const pathParts = path.split("/");
  if (pathParts.length < patternParts.length || (!isGlob && pathParts.length !== patternParts.length)) return null;
  let wildcardSegments = 0;
  let firstWildcard = -1;
  let offset = 0;
  for (let i = 0; i < patternParts.length; i++) {
    const part = patternParts[i]!;
    if (part === "+") {
      wildcardSegments++;
      if (firstWildcard === -1) firstWildcard = offset;
    } else if (part !== pathParts[i] && !(isGlob && i === patternParts.length - 1 && pathParts[i]!.startsWith(part))) {
      return null;
    }
    offset += part.length + 1;
  }
  return { firstWildcard, isGlob, wildcardSegments, pattern, capabilities };
}

/** Whether `a` is more specific than `b` (Vault's priority order for non-exact matches). */
function outranks(a: Candidate, b: Candidate): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard > b.firstWildcard;
  if (a.isGlob !== b.isGlob) return !a.isGlob;
  if (a.wildcardSegments !== b.wildcardSegments) return a.wildcardSegments < b.wildcardSegments;
  if (a.pattern.length !== b.pattern.length) return a.pattern.length > b.pattern.length;
  return a.pattern > b.pattern;
}
