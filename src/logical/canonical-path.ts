/**
 * The request path the core authorises and dispatches: names of users, roles and policies in their
 * canonical form (names.ts). Rewriting before the ACL check is what makes a deny on
 * "auth/userpass/users/admin" also cover "users/ADMIN", and a 400 for " admin" or "admin\t" means
 * no handler ever has to guess which entry such a name meant.
 */
import type { AuthTable } from "./auth/auth-table.js";
import { canonicalName } from "../sdk/names.js";
import { canonicalPolicyPath } from "./policy/policy-routes.js";

/** `sys/mounts/<path>[/tune]` and `sys/auth/<path>[/tune]`, whose mount path the handlers read without empty segments. */
const MOUNT_TABLE_PATH = /^(sys\/mounts|sys\/auth)\/(.*)$/;

/** `auth/token/roles/<name>` and `auth/token/create/<name>`: token role names are case-insensitive. */
const TOKEN_ROLE_PATH = /^(auth\/token\/(?:roles|create)\/)([^/]+)$/;

export function canonicalRequestPath(auths: AuthTable, path: string): string {
  // Every name rewritten below sits under auth/ or sys/; a secret's path is served as written.
  if (!path.startsWith("auth/") && !path.startsWith("sys/")) return path;
  const tokenRole = TOKEN_ROLE_PATH.exec(path);
  if (tokenRole) return `${tokenRole[1]}${canonicalName(tokenRole[2]!, "token role name")}`;
  if (path.startsWith("auth/") && !path.startsWith("auth/token/")) return `auth/${auths.canonicalPath(path.slice("auth/".length))}`;
  const mountTable = MOUNT_TABLE_PATH.exec(path);
  if (mountTable) {
    // "sys/mounts/secret/" and "sys/mounts//secret" act on the mount "secret/": authorise them as "sys/mounts/secret".
    const mountPath = mountTable[2]!
      .split("/")
      .filter((segment) => segment !== "")
      .join("/");
    return mountPath ? `${mountTable[1]}/${mountPath}` : mountTable[1]!;
  }
  return canonicalPolicyPath(path);
}
