/** `sys/auth[/<path>[/tune]]`, `sys/locked-users[/<accessor>/unlock/<alias>]`, and the token a successful login is issued. */
import type { TokenEntry, TokenStore } from "../token-store.js";
import { type HandlerResult, LogicalError, type MountEntry, type Operation, unsupportedOperation } from "../../sdk/types.js";
import { describeMount } from "../mounts.js";
import { type AuthTable, supportsLockout } from "./auth-table.js";
import { describeLockoutConfig } from "./lockout.js";
import { refuseNonAssignablePolicies } from "../../sdk/token-settings.js";
import type { LoginGrant } from "../../sdk/auth.js";
import { permissionDenied } from "../../sdk/types.js";
import type { Identity } from "../identity/identity.js";

interface SysAuthRequest {
  operation: Operation;
  /** Full API path: "sys/auth", "sys/auth/userpass", "sys/auth/userpass/tune", "sys/locked-users". */
  path: string;
  data: Record<string, unknown>;
}

const LOCKED_USERS = "sys/locked-users";

export async function handleSysAuth(auths: AuthTable, tokens: TokenStore, { operation, path, data }: SysAuthRequest): Promise<HandlerResult> {
  const unsupported = () => unsupportedOperation(path, operation);
  if (path === LOCKED_USERS || path.startsWith(`${LOCKED_USERS}/`)) {
    return handleLockedUsers(auths, { operation, path, data }, unsupported);
  }
  const mountPath = path.slice("sys/auth".length).replace(/^\//, "");
  if (!mountPath) {
    if (operation !== "read") throw unsupported();
    return { data: Object.fromEntries(auths.entries().map((entry) => [entry.path, describeAuthMount(entry)])) };
  }
  if (mountPath.endsWith("/tune")) {
    const target = mountPath.slice(0, -"/tune".length);
    if (operation === "read") {
      const entry = auths.find(target);
      const lockout = supportsLockout(entry) ? { user_lockout_config: describeLockoutConfig(entry.user_lockout_config) } : {};
      return {
        data: { ...entry.config, description: entry.description, force_no_cache: false, options: entry.options, token_type: "default-service", ...lockout },
      };
    }
    if (operation !== "update" && operation !== "create") throw unsupported();
    await auths.tune(target, data);
    return null;
  }
  switch (operation) {
    case "read":
      return { data: describeAuthMount(auths.find(mountPath)) };
    case "create":
    case "update":
      await auths.enable(mountPath, data);
      return null;
    case "delete": {
      const removed = await auths.disable(mountPath);
      // As in Vault, disabling a method revokes every token it issued.
      if (removed) for (const token of await tokens.withPathPrefix(`auth/${removed.path}`)) await tokens.revoke(token);
      return null;
    }
    default:
      throw unsupported();
  }
}

/**
 * `sys/locked-users` (read; optional `mount_accessor` filter) in Vault's shape, with this server's
 * single (root) namespace; `sys/locked-users/<accessor>/unlock/<alias>` (write) frees one user,
 * succeeding whether or not it was locked, as in Vault. Both go through the ACL like any sys path.
 */
async function handleLockedUsers(auths: AuthTable, { operation, path, data }: SysAuthRequest, unsupported: () => LogicalError): Promise<HandlerResult> {
  if (path === LOCKED_USERS) {
    if (operation !== "read") throw unsupported();
    const only = typeof data.mount_accessor === "string" && data.mount_accessor !== "" ? data.mount_accessor : null;
    const mounts = [...auths.lockedUsers(Date.now())]
      .filter(([accessor]) => only === null || accessor === only)
      .map(([accessor, aliases]) => ({ mount_accessor: accessor, counts: aliases.length, alias_identifiers: aliases.sort() }))
      .sort((a, b) => b.counts - a.counts);
    const total = mounts.reduce((sum, mount) => sum + mount.counts, 0);
    const namespaces = total === 0 ? [] : [{ namespace_id: "root", namespace_path: "", counts: total, mount_accessors: mounts }];
    return { data: { by_namespace: namespaces, total } };
  }
  const match = /^sys\/locked-users\/([^/]+)\/unlock\/(.+)$/.exec(path);
  if (!match) throw new LogicalError(404, `no handler for route "${path}". route entry not found.`);
  if (operation !== "update" && operation !== "create") throw unsupported();
  await auths.unlockUser(match[1]!, match[2]!);
  return null;
}

/**
 * The issuing auth method's say on renewing a token it issued at login (the token's path is that
 * login's): Vault's renew callback. Throws to refuse; tokens no auth method issued pass.
 */
export async function checkRenewal(
  auths: AuthTable,
  entry: TokenEntry,
  request: { clientAddress?: string; clientCertificates?: Uint8Array[] },
  now: number,
): Promise<void> {
  const mounted = entry.path.startsWith("auth/") ? auths.route(entry.path.slice("auth/".length))?.mounted : undefined;
  if (!mounted?.method.renew) return;
  await mounted.method.renew({
    storage: mounted.storage,
    mount: mounted.entry,
    now,
    metadata: entry.meta ?? {},
    policies: entry.policies,
    clientAddress: request.clientAddress,
    clientCertificates: request.clientCertificates,
  });
}

/**
 * Issues the token for a successful login at `auth/<mount><relative>`: an orphan carrying the
 * method's settings, its TTL defaulting to the mount's and then the system's, acting for the entity
 * that holds the login's alias (found or created; a disabled entity cannot log in).
 */
export async function issueLoginToken(
  { tokens, identity }: { tokens: TokenStore; identity: Identity },
  mount: MountEntry,
  relative: string,
  grant: LoginGrant,
  now: number,
): Promise<HandlerResult> {
  const { settings } = grant;
  if (settings.token_policies.includes("root")) throw new LogicalError(400, "auth methods cannot create root tokens");
  refuseNonAssignablePolicies(settings.token_policies);
  const entity = grant.alias ? await identity.store.forLogin(now, mount.accessor, grant.alias, grant.groupAliases) : null;
  if (entity?.disabled) throw permissionDenied();
  const policies = settings.token_no_default_policy ? settings.token_policies : [...settings.token_policies, "default"];
  const maxTtl = settings.token_max_ttl || mount.config.max_lease_ttl || tokens.leaseTtls.maxSeconds;
  const ttl = Math.min(settings.token_ttl || mount.config.default_lease_ttl || tokens.leaseTtls.defaultSeconds, maxTtl);
  const { token, entry } = await tokens.create({
    policies,
    ttl,
    max_ttl: maxTtl,
    explicit_max_ttl: settings.token_explicit_max_ttl,
    period: settings.token_period,
    num_uses: settings.token_num_uses,
    bound_cidrs: settings.token_bound_cidrs,
    meta: grant.metadata,
    display_name: `${mount.path.replace(/\//g, "-")}${grant.displayName}`.replace(/-$/, ""),
    path: `auth/${mount.path}${relative}`,
    orphan: true,
    ...(entity && { entity_id: entity.id }),
  });
  const identityPolicies = entity ? (await identity.view(entity.id))?.policies : undefined;
  const auth = tokens.authBlock(entry, token);
  if (!identityPolicies?.length) return { auth };
  return { auth: { ...auth, identity_policies: identityPolicies, policies: [...new Set([...entry.policies, ...identityPolicies])].sort() } };
}

function describeAuthMount(entry: MountEntry): Record<string, unknown> {
  const described = describeMount(entry);
  return {
    ...described,
    config: { ...(described.config as object), token_type: "default-service" },
    options: entry.type === "token" ? null : entry.options,
  };
}
