/**
 * Vault's policy endpoints: `sys/policies/acl[/<name>]` (fields `name`, `policy`), the legacy
 * `sys/policy[/<name>]` (fields `name`, `rules`), and `sys/capabilities[-self|-accessor]`.
 */
import { trimTrailingSlashes } from "../../sdk/fields.js";
import type { TokenEntry, TokenStore } from "../token-store.js";
import { type HandlerResult, LogicalError, type Operation, unsupportedOperation } from "../../sdk/types.js";
import { fromBase64 } from "../../sdk/encoding.js";
import { canonicalName } from "../../sdk/names.js";
import { POLICY_NAME, type PolicyStore } from "./policy-store.js";
import type { Acl } from "../acl.js";

interface PolicyRequest {
  operation: Operation;
  /** Full API path, e.g. "sys/policies/acl/dev". */
  path: string;
  data: Record<string, unknown>;
  /** The caller's token entry: sys/capabilities-self asks about it, never about a token named in the body. */
  caller: TokenEntry;
  /** The ACL a token's requests are judged by (its entity's policies included). */
  aclOf(entry: TokenEntry): Promise<Acl>;
}

const ACL_PREFIX = "sys/policies/acl";
const LEGACY_PREFIX = "sys/policy";
const CAPABILITIES_PATHS = new Set(["sys/capabilities", "sys/capabilities-self", "sys/capabilities-accessor"]);

/**
 * A policy path with the policy name in canonical form (names.ts), so the ACL judges the path of
 * the policy that is read or written: "sys/policies/acl/Admin" and "sys/policies/acl/admin/" become
 * "sys/policies/acl/admin"; " admin" is a 400. Other paths are returned unchanged.
 */
export function canonicalPolicyPath(path: string): string {
  for (const prefix of [ACL_PREFIX, LEGACY_PREFIX]) {
    if (!path.startsWith(`${prefix}/`)) continue;
    const rest = path.slice(prefix.length + 1);
    if (rest === "") return path;
    return `${prefix}/${canonicalName(trimTrailingSlashes(rest), POLICY_NAME)}`;
  }
  return path;
}

export async function handlePolicyRequest(store: PolicyStore, tokens: TokenStore, request: PolicyRequest): Promise<HandlerResult> {
  const { path, operation, data } = request;
  if (CAPABILITIES_PATHS.has(path)) {
    if (operation !== "update" && operation !== "create") throw unsupportedOperation(path, operation);
    return capabilities(tokens, request);
  }
  const legacy = !path.startsWith(ACL_PREFIX);
  // Only the separator goes: a trailing "/" makes a non-canonical name, refused below, never trimmed.
  const name = path.slice((legacy ? LEGACY_PREFIX : ACL_PREFIX).length).replace(/^\//, "");
  const textField = legacy ? "rules" : "policy";

  if (!name) {
    // The legacy listing answers GET as well as LIST, under both `keys` and `policies`.
    if (operation !== "list" && !(legacy && operation === "read")) throw unsupportedOperation(path, operation);
    const keys = await store.list();
    return { data: legacy ? { keys, policies: keys } : { keys } };
  }
  switch (operation) {
    case "read": {
      const policy = await store.get(name);
      if (!policy) throw new LogicalError(404, "");
      return { data: { name: policy.name, [textField]: policy.text } };
    }
    case "create":
    case "update":
      await store.put(name, policyText(data));
      return null;
    case "delete":
      await store.delete(name);
      return null;
    default:
      throw unsupportedOperation(path, operation);
  }
}

/** The policy text of a write: `policy` or `rules`, optionally base64-encoded (Vault accepts both). */
function policyText(data: Record<string, unknown>): string {
  const raw = data.policy ?? data.rules;
  if (typeof raw !== "string" || raw.trim() === "") throw new LogicalError(400, "'policy' parameter not supplied or empty");
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(raw.trim())) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(fromBase64(raw.trim()));
    } catch {
      return raw; // not base64 after all: a one-word policy, which the parser will reject with a reason
    }
  }
  return raw;
}

async function capabilities(
  tokens: TokenStore,
  { path, data, caller, aclOf }: Pick<PolicyRequest, "path" | "data" | "caller" | "aclOf">,
): Promise<HandlerResult> {
  const paths = requestedPaths(data);
  let entry: TokenEntry | null;
  // As Vault: a `token` in the body is ignored here (it would let anyone probe, and spend nothing of, another token).
  if (path === "sys/capabilities-self") {
    entry = caller;
  } else if (path === "sys/capabilities-accessor") {
    if (typeof data.accessor !== "string" || data.accessor === "") throw new LogicalError(400, "missing accessor");
    entry = await tokens.lookupAccessor(data.accessor);
    if (!entry) throw new LogicalError(400, "invalid accessor");
  } else {
    const token = data.token;
    if (typeof token !== "string" || token === "") throw new LogicalError(400, "missing token");
    entry = await tokens.lookup(token);
    if (!entry) throw new LogicalError(400, "invalid token");
  }
  const acl = await aclOf(entry);
  const result: Record<string, unknown> = {};
  for (const target of paths) result[target] = entry.policies.length === 0 ? ["deny"] : acl.capabilities(target);
  // Kept for clients of the single-path form.
  if (paths.length === 1) result.capabilities = result[paths[0]!];
  return { data: result };
}

function requestedPaths(data: Record<string, unknown>): string[] {
  const raw = data.paths ?? data.path;
  const list = typeof raw === "string" ? raw.split(",") : Array.isArray(raw) ? raw : [];
  const paths = list
    .filter((p): p is string => typeof p === "string")
    .map((p) => p.trim().replace(/^\/+/, ""))
    .filter((p) => p !== "");
  if (paths.length === 0) throw new LogicalError(400, "missing path");
  return paths;
}
