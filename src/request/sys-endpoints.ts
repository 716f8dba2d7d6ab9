/**
 * The endpoints the core serves itself behind a token: `sys/` (but the node-level ones in
 * http/node-endpoints.ts, served before a node is unsealed) and the token store under
 * `auth/token/`. Each is declared once, here, with what the router, the ACL and standby reads must
 * know of it; engines and auth methods declare their own (builtin/, sdk/framework.ts).
 *
 * A handler serving a family of paths (policies, mounts, leases) still answers its own finer 404s
 * and 405s, so it takes every operation here.
 */
import type { AuditBroker } from "../audit/broker.js";
import type { NodeState } from "../audit/node-state.js";
import { handleSysAudit } from "../audit/sys-audit.js";
import { CUBBYHOLE_MOUNT_PATH } from "../logical/cubbyhole.js";
import { checkRenewal, handleSysAuth } from "../logical/auth/auth-routes.js";
import { handlePolicyRequest } from "../logical/policy/policy-routes.js";
import { handleTokenRequest } from "../logical/token-routes.js";
import { tokenAcl, withIdentityPoliciesShown } from "../logical/identity/request-identity.js";
import type { TokenEntry } from "../logical/token-store.js";
import { type Endpoint, Endpoints, type Handler } from "../sdk/framework.js";
import type { CoreRequest, EndpointFlags, HandlerResult, Operation } from "../sdk/types.js";
import { endpointFlags, type LogicalState } from "../logical/state.js";
import { handleSysLeases } from "./sys-leases.js";
import { handleSysMounts, mountInfo } from "./sys-mounts.js";
import { handleSysRemount } from "./sys-remount.js";
import { handleSysWrapping } from "./sys-wrapping.js";

/** What a sys handler is given: the request, the caller, and the node it runs on. */
export interface SysCall extends CoreRequest {
  state: NodeState;
  caller: TokenEntry & { hash: string };
  /** Whether the caller's policies grant sudo on this path (token endpoints that take it optionally). */
  sudo: boolean;
  node: SysNode;
  audit: AuditBroker;
  /** Epoch milliseconds of the request (the core's clock). */
  now: number;
}

/** The node-level operations sys endpoints reach (the router's node). */
export interface SysNode {
  seal(): Promise<void>;
  stepDown(): Promise<void>;
  haStatus(): Record<string, unknown>[];
  keys: { rotate(): Promise<unknown>; status(): Promise<object> };
  rekeyBackups: Record<"rekey" | "rekey-recovery-key", { backup(): Promise<Record<string, unknown>>; deleteBackup(): Promise<void> }>;
}

export const METRICS_PATH = "sys/metrics";

const OPERATIONS: Operation[] = ["read", "list", "create", "update", "delete", "patch"];

/** A handler for every operation: it answers the ones it does not take itself. */
function family(handler: Handler<SysCall, HandlerResult>): Endpoint<SysCall>["operations"] {
  return Object.fromEntries(OPERATIONS.map((operation) => [operation, handler]));
}

const policies = family((call) => handlePolicyRequest(call.state.policies, call.state.tokens, { ...call, aclOf: (entry) => tokenAcl(call.state, entry) }));
const auths = family((call) => handleSysAuth(call.state.auths, call.state.tokens, call));
const mounts = family((call) => handleSysMounts(call.state.mounts, call.path, call.operation, call.data));
const remount = family((call) => handleSysRemount(call.state.mounts, call.path, call.operation, call.data));
const leases = family((call) => handleSysLeases(call.state.tokens, call));
const audit = family((call) => handleSysAudit(call.state.audit, call.audit, call.path, call.operation, call.data));
const wrapping = family((call) => handleSysWrapping(call.state, call));
const tokens = family(async (call) => {
  const relative = { ...call, path: call.path.slice("auth/token/".length) };
  // A token's renewal asks the auth method that issued it whether the login still stands.
  const beforeRenew = (entry: TokenEntry) => checkRenewal(call.state.auths, entry, call, call.now);
  const result = await handleTokenRequest(call.state.tokens, call.state.tokenRoles, relative, call.caller, call.sudo, beforeRenew);
  return withIdentityPoliciesShown(call.state.identity, result);
});
const uiMounts = family(async (call) => mountInfo(call.state.mounts, call.path));

/** Node-level state: a standby's read router has none of it to give. */
const NODE_LOCAL = { standby: false } as const;

export const SYS_ENDPOINTS = new Endpoints<SysCall>([
  { pattern: "sys/policy", operations: policies },
  { pattern: "sys/policy/:name", operations: policies },
  { pattern: "sys/policies/acl", operations: policies },
  { pattern: "sys/policies/acl/:name", operations: policies },
  { pattern: "sys/capabilities", operations: policies, ...NODE_LOCAL },
  { pattern: "sys/capabilities-accessor", operations: policies, ...NODE_LOCAL },
  // Answers what the caller's own token may do: writes nothing.
  { pattern: "sys/capabilities-self", operations: policies, standby: true },
  { pattern: "sys/auth", operations: auths },
  { pattern: "sys/auth/*path", operations: auths, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/locked-users", operations: auths, ...NODE_LOCAL },
  { pattern: "sys/locked-users/*rest", operations: auths, ...NODE_LOCAL },
  { pattern: "sys/mounts", operations: mounts },
  { pattern: "sys/mounts/*path", operations: mounts, ...NODE_LOCAL },
  { pattern: "sys/remount", operations: remount, sudo: true },
  { pattern: "sys/remount/status/*id", operations: remount, ...NODE_LOCAL },
  { pattern: "sys/internal/ui/mounts", operations: uiMounts },
  { pattern: "sys/internal/ui/mounts/*path", operations: uiMounts },
  { pattern: "sys/seal", sudo: true, operations: { update: async ({ node }) => (await node.seal(), null) } },
  { pattern: "sys/step-down", sudo: true, operations: { update: async ({ node }) => (await node.stepDown(), null) } },
  { pattern: "sys/rotate", sudo: true, operations: { update: async ({ node }) => (await node.keys.rotate(), null) } },
  { pattern: "sys/key-status", sudo: true, ...NODE_LOCAL, operations: { read: async ({ node }) => ({ data: { ...(await node.keys.status()) } }) } },
  ...(["rekey", "rekey-recovery-key"] as const).map((kind) => ({
    pattern: `sys/${kind}/backup`,
    sudo: true,
    ...NODE_LOCAL,
    operations: {
      read: async ({ node }: SysCall) => ({ data: await node.rekeyBackups[kind].backup() }),
      delete: async ({ node }: SysCall) => (await node.rekeyBackups[kind].deleteBackup(), null),
    },
  })),
  { pattern: "sys/ha-status", ...NODE_LOCAL, operations: { read: async ({ node }) => ({ data: { nodes: node.haStatus() } }) } },
  // Authorised here; the HTTP layer renders this node's metrics.
  { pattern: METRICS_PATH, ...NODE_LOCAL, operations: { read: async () => null } },
  { pattern: "sys/wrapping/*operation", operations: wrapping, ...NODE_LOCAL },
  { pattern: "sys/audit", operations: audit, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/audit/*path", operations: audit, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/audit-hash/*path", operations: audit, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/leases/lookup", operations: leases, ...NODE_LOCAL },
  // Listing leases under a prefix, or revoking every one of them, needs sudo (as Vault's root paths).
  { pattern: "sys/leases/lookup/*prefix", operations: leases, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/leases/revoke-prefix/*prefix", operations: leases, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/leases/revoke-force/*prefix", operations: leases, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/revoke-prefix/*prefix", operations: leases, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/revoke-force/*prefix", operations: leases, sudo: true, ...NODE_LOCAL },
  { pattern: "sys/leases/*rest", operations: leases, ...NODE_LOCAL },
  { pattern: "sys/renew", operations: leases, ...NODE_LOCAL },
  { pattern: "sys/renew/*id", operations: leases, ...NODE_LOCAL },
  { pattern: "sys/revoke", operations: leases, ...NODE_LOCAL },
  { pattern: "sys/revoke/*id", operations: leases, ...NODE_LOCAL },
  { pattern: "sys/revoke-prefix", operations: leases, ...NODE_LOCAL },
  { pattern: "sys/revoke-force", operations: leases, ...NODE_LOCAL },
  // The caller's own token: reading it writes nothing unless it has expired (then the active revokes it).
  { pattern: "auth/token/lookup-self", operations: tokens },
  { pattern: "auth/token/revoke-orphan", operations: tokens, sudo: true, ...NODE_LOCAL },
  { pattern: "auth/token/accessors", operations: tokens, sudo: true, ...NODE_LOCAL },
  { pattern: "auth/token/accessors/*rest", operations: tokens, sudo: true, ...NODE_LOCAL },
  { pattern: "auth/token/*rest", operations: tokens, ...NODE_LOCAL },
]);

/**
 * What the endpoint serving `path` declares: the core's own (an undeclared one is answered only
 * by the active), a secrets engine's or an auth method's. Cubbyholes are read like any engine.
 */
export function declaredFlags(state: LogicalState, path: string): EndpointFlags {
  if (path.startsWith("sys/") || path.startsWith("auth/token/")) return SYS_ENDPOINTS.match(path)?.endpoint ?? NODE_LOCAL;
  if (`${path}/`.startsWith(CUBBYHOLE_MOUNT_PATH)) return {};
  return endpointFlags(state, path);
}
