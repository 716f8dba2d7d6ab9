/**
 * sys/leases/* (and the legacy sys/renew, sys/revoke, sys/revoke-prefix, sys/revoke-force).
 *
 * In Strongbox the only leases are tokens' (secrets engines issue none: kv answers carry no
 * lease_id). As in Vault, a token's lease lives under the path that created it: its lease ID is
 * `<creation path>/<accessor>`, e.g. `auth/userpass/login/alice/<accessor>` or
 * `auth/token/create/<accessor>`, so `revoke-prefix/auth/userpass/` revokes every token issued
 * by userpass logins. Token leases are renewed through auth/token/renew*, as Vault requires.
 */
import { rfc3339 } from "../sdk/encoding.js";
import type { TokenEntry, TokenStore } from "../logical/token-store.js";
import { type HandlerResult, LogicalError, noHandler, type Operation, unsupportedOperation } from "../sdk/types.js";

interface LeaseRequest {
  operation: Operation;
  path: string;
  data: Record<string, unknown>;
}

/** The endpoint names below sys/leases/ and their legacy sys/ aliases. */
const LEGACY = { "sys/renew": "renew", "sys/revoke": "revoke", "sys/revoke-prefix": "revoke-prefix", "sys/revoke-force": "revoke-force" } as const;

export async function handleSysLeases(tokens: TokenStore, request: LeaseRequest): Promise<HandlerResult> {
  const { endpoint, rest } = splitEndpoint(request.path);
  const write = request.operation === "update" || request.operation === "create";
  switch (endpoint) {
    case "lookup":
      if (request.operation === "list") return { data: { keys: await listLeases(tokens, rest) } };
      if (!write || rest !== "") break;
      return { data: describeLease(tokens, await requireLease(tokens, leaseIdOf(request.data, rest))) };
    case "renew":
      if (!write) break;
      await requireLease(tokens, leaseIdOf(request.data, rest));
      throw new LogicalError(400, "tokens cannot be renewed through this endpoint; use auth/token/renew or auth/token/renew-self");
    case "revoke": {
      if (!write) break;
      const lease = await findLease(tokens, leaseIdOf(request.data, rest));
      if (lease) await tokens.revoke(lease.entry);
      return null;
    }
    case "revoke-prefix":
    case "revoke-force":
      // With no secrets engine leases, nothing can fail to revoke: force is the same as prefix.
      if (!write) break;
      if (rest === "") throw new LogicalError(400, "missing prefix");
      for (const { entry } of await leasesUnder(tokens, rest)) await tokens.revoke(entry);
      return null;
    default:
      throw noHandler(request.path);
  }
  throw unsupportedOperation(request.path, request.operation);
}

function splitEndpoint(path: string): { endpoint: string; rest: string } {
  for (const [legacy, endpoint] of Object.entries(LEGACY)) {
    if (path === legacy || path.startsWith(`${legacy}/`)) return { endpoint, rest: path.slice(legacy.length + 1) };
  }
  const below = path.slice("sys/leases/".length);
  const slash = below.indexOf("/");
  return slash < 0 ? { endpoint: below, rest: "" } : { endpoint: below.slice(0, slash), rest: below.slice(slash + 1) };
}

/** The lease ID from the body's `lease_id`, else from the path (sys/leases/revoke/<lease id>). */
function leaseIdOf(data: Record<string, unknown>, fromPath: string): string {
  const given = data.lease_id ?? undefined;
  if (given !== undefined && typeof given !== "string") throw new LogicalError(400, `"lease_id" must be a string`);
  const leaseId = given || fromPath;
  if (!leaseId) throw new LogicalError(400, "missing lease_id");
  return leaseId;
}

type TokenLease = { id: string; entry: TokenEntry & { hash: string } };

async function findLease(tokens: TokenStore, leaseId: string): Promise<TokenLease | null> {
  const slash = leaseId.lastIndexOf("/");
  if (slash <= 0) return null;
  const entry = await tokens.lookupAccessor(leaseId.slice(slash + 1));
  return entry && entry.path === leaseId.slice(0, slash) ? { id: leaseId, entry } : null;
}

async function requireLease(tokens: TokenStore, leaseId: string): Promise<TokenLease> {
  const lease = await findLease(tokens, leaseId);
  if (!lease) throw new LogicalError(400, "invalid lease");
  return lease;
}

/** The live token leases whose ID starts with `prefix` taken as a folder ("auth/userpass" means "auth/userpass/"). */
async function leasesUnder(tokens: TokenStore, rawPrefix: string): Promise<TokenLease[]> {
  const prefix = rawPrefix === "" || rawPrefix.endsWith("/") ? rawPrefix : `${rawPrefix}/`;
  // The store's prefix match is on the creation path; "auth/token/create/" must also find the path "auth/token/create".
  const candidates = await tokens.withPathPrefix(prefix.replace(/\/$/, ""));
  const leases: TokenLease[] = [];
  for (const candidate of candidates) {
    const id = `${candidate.path}/${candidate.accessor}`;
    if (!id.startsWith(prefix)) continue;
    const live = await tokens.lookupAccessor(candidate.accessor);
    if (live) leases.push({ id, entry: live });
  }
  return leases;
}

/** LIST sys/leases/lookup/<prefix>: the next segment of every lease ID below the prefix, folders with a trailing "/". */
async function listLeases(tokens: TokenStore, prefix: string): Promise<string[]> {
  const folder = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  const keys = new Set<string>();
  for (const { id } of await leasesUnder(tokens, folder)) {
    const rest = id.slice(folder.length);
    const slash = rest.indexOf("/");
    keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
  }
  return [...keys].sort();
}

function describeLease(tokens: TokenStore, { id, entry }: TokenLease): Record<string, unknown> {
  return {
    id,
    issue_time: rfc3339(new Date(entry.creation_time * 1000)),
    expire_time: entry.expire_time === null ? null : rfc3339(new Date(entry.expire_time)),
    last_renewal: null,
    renewable: entry.renewable,
    ttl: tokens.describe(entry).ttl,
  };
}
