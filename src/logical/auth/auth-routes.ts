/** `sys/auth[/<path>[/tune]]`, and the token a successful login is issued. */
import { SYSTEM_MAX_TTL_SECONDS, type TokenStore } from "../token-store.js";
import { type HandlerResult, LogicalError, type MountEntry, type Operation } from "../types.js";
import { describeMount } from "../mounts.js";
import type { AuthTable } from "./auth-table.js";
import type { LoginGrant } from "./types.js";

interface SysAuthRequest {
  operation: Operation;
  /** Full API path: "sys/auth", "sys/auth/userpass", "sys/auth/userpass/tune". */
  path: string;
  data: Record<string, unknown>;
}

export function isSysAuthPath(path: string): boolean {
  return path === "sys/auth" || path.startsWith("sys/auth/");
}

export async function handleSysAuth(auths: AuthTable, tokens: TokenStore, { operation, path, data }: SysAuthRequest): Promise<HandlerResult> {
  const unsupported = () => new LogicalError(405, `unsupported operation "${operation}" on path "${path}"`);
  const mountPath = path.slice("sys/auth".length).replace(/^\//, "");
  if (!mountPath) {
    if (operation !== "read") throw unsupported();
    return { data: Object.fromEntries(auths.entries().map((entry) => [entry.path, describeAuthMount(entry)])) };
  }
  if (mountPath.endsWith("/tune")) {
    const target = mountPath.slice(0, -"/tune".length);
    if (operation === "read") {
      const entry = auths.find(target);
      return { data: { ...entry.config, description: entry.description, force_no_cache: false, options: entry.options, token_type: "default-service" } };
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
      if (removed) await tokens.revokeByPathPrefix(`auth/${removed.path}`);
      return null;
    }
    default:
      throw unsupported();
  }
}

/**
 * Issues the token for a successful login at `auth/<mount><relative>`: an orphan carrying the
 * method's settings, its TTL defaulting to the mount's and then the system's.
 */
export async function issueLoginToken(tokens: TokenStore, mount: MountEntry, relative: string, grant: LoginGrant): Promise<HandlerResult> {
  const { settings } = grant;
  if (settings.token_policies.includes("root")) throw new LogicalError(400, "auth methods cannot create root tokens");
  const policies = settings.token_no_default_policy ? settings.token_policies : [...settings.token_policies, "default"];
  const maxTtl = settings.token_max_ttl || mount.config.max_lease_ttl || SYSTEM_MAX_TTL_SECONDS;
  const ttl = Math.min(settings.token_ttl || mount.config.default_lease_ttl || SYSTEM_MAX_TTL_SECONDS, maxTtl);
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
  });
  return { auth: tokens.authBlock(entry, token) };
}

function describeAuthMount(entry: MountEntry): Record<string, unknown> {
  const described = describeMount(entry);
  return {
    ...described,
    config: { ...(described.config as object), token_type: "default-service" },
    options: entry.type === "token" ? null : entry.options,
  };
}
