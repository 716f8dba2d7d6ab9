import { isPlainObject } from "./fields.js";
import { type TokenEntry, type TokenStore, tokenDurations } from "./token-store.js";
import { type HandlerResult, LogicalError, type Operation } from "./types.js";

type Caller = TokenEntry & { hash: string };

interface TokenRequest {
  operation: Operation;
  /** Path below auth/token/, e.g. "create", "lookup-self". */
  path: string;
  data: Record<string, unknown>;
  token: string;
}

const WRITE: Operation[] = ["create", "update"];

/**
 * Vault's auth/token/* endpoints. `sudo` says whether the caller holds root or sudo on the path,
 * which unlocks what Vault reserves to it (orphans via no_parent, chosen IDs, periodic tokens,
 * policies outside the caller's own).
 */
export async function handleTokenRequest(tokens: TokenStore, request: TokenRequest, caller: Caller, sudo: boolean): Promise<HandlerResult> {
  const { path, operation, data } = request;
  const expect = (...allowed: Operation[]) => {
    if (!allowed.includes(operation)) throw new LogicalError(405, `unsupported operation "${operation}" on path "auth/token/${path}"`);
  };
  switch (path) {
    case "create":
    case "create-orphan": {
      expect(...WRITE);
      return createToken(tokens, data, caller, sudo, path === "create-orphan");
    }
    case "lookup-self":
      expect("read", ...WRITE);
      return { data: tokens.describe(caller, request.token) };
    case "lookup": {
      expect("read", ...WRITE);
      const token = requireString(data, "token");
      const entry = await tokens.lookup(token);
      if (!entry) throw new LogicalError(403, "bad token");
      return { data: tokens.describe(entry, token) };
    }
    case "lookup-accessor": {
      expect(...WRITE);
      const entry = await tokens.lookupAccessor(requireString(data, "accessor"));
      if (!entry) throw new LogicalError(400, "invalid accessor");
      return { data: tokens.describe(entry) };
    }
    case "renew-self":
    case "renew": {
      expect(...WRITE);
      const token = path === "renew-self" ? request.token : requireString(data, "token");
      const entry = path === "renew-self" ? caller : await tokens.lookup(token);
      if (!entry) throw new LogicalError(400, "invalid token");
      const increment = tokenDurations({ ttl: data.increment }).ttl;
      const renewed = await tokens.renew(entry, increment);
      return { auth: tokens.authBlock(renewed, token) };
    }
    case "revoke-self":
      expect(...WRITE);
      await tokens.revoke(caller);
      return null;
    case "revoke": {
      expect(...WRITE);
      const entry = await tokens.lookup(requireString(data, "token"));
      if (entry) await tokens.revoke(entry);
      return null;
    }
    case "revoke-orphan": {
      expect(...WRITE);
      const entry = await tokens.lookup(requireString(data, "token"));
      if (entry) await tokens.revokeOrphan(entry);
      return null;
    }
    case "revoke-accessor": {
      expect(...WRITE);
      const entry = await tokens.lookupAccessor(requireString(data, "accessor"));
      if (entry) await tokens.revoke(entry);
      return null;
    }
    default:
      throw new LogicalError(404, `no handler for route "auth/token/${path}". route entry not found.`);
  }
}

async function createToken(tokens: TokenStore, data: Record<string, unknown>, caller: Caller, sudo: boolean, orphanEndpoint: boolean): Promise<HandlerResult> {
  // Each child would be a fresh set of uses: the limit would mean nothing.
  if (caller.num_uses !== 0) throw new LogicalError(400, "restricted use token cannot generate child tokens");
  const requested = data.policies === undefined ? caller.policies : data.policies;
  if (!Array.isArray(requested) || requested.some((p) => typeof p !== "string")) {
    throw new LogicalError(400, `"policies" must be a list of policy names`);
  }
  let policies = (requested as string[]).filter((p) => p !== "");
  const requireSudo = (what: string) => {
    if (!sudo) throw new LogicalError(400, `root or sudo privileges required to ${what}`);
  };
  if (policies.includes("root") && !caller.policies.includes("root")) {
    throw new LogicalError(400, "root tokens may not be created without parent token being root");
  }
  if (!sudo && policies.some((p) => !caller.policies.includes(p))) {
    throw new LogicalError(400, "child policies must be subset of parent");
  }
  const noParent = data.no_parent === true || data.no_parent === "true";
  if (noParent) requireSudo("create orphan token");
  const orphan = orphanEndpoint || noParent;
  if (data.no_default_policy !== true && !policies.includes("root") && !policies.includes("default")) {
    policies = [...policies, "default"];
  }
  const numUses = data.num_uses === undefined ? 0 : Number(data.num_uses);
  if (!Number.isInteger(numUses) || numUses < 0) throw new LogicalError(400, `"num_uses" must be a non-negative integer`);
  const meta = data.meta ?? null;
  if (meta !== null && (!isPlainObject(meta) || Object.values(meta).some((v) => typeof v !== "string"))) {
    throw new LogicalError(400, `"meta" must be a map of strings`);
  }
  if (data.id !== undefined && typeof data.id !== "string") throw new LogicalError(400, `"id" must be a string`);
  if (data.id !== undefined) requireSudo("specify token id");
  const durations = tokenDurations(data);
  if (durations.period) requireSudo("create periodic token");
  const { token, entry } = await tokens.create({
    id: data.id as string | undefined,
    policies,
    ...durations,
    num_uses: numUses,
    renewable: data.renewable === undefined ? true : data.renewable === true || data.renewable === "true",
    display_name: typeof data.display_name === "string" && data.display_name !== "" ? `token-${data.display_name}` : undefined,
    meta: meta as Record<string, string> | null,
    parent: caller,
    orphan,
  });
  return { auth: tokens.authBlock(entry, token) };
}

function requireString(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value !== "string" || value === "") throw new LogicalError(400, `missing required field "${field}"`);
  return value;
}
