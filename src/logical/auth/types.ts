/** What an auth method (userpass, AppRole) sees of a request and hands back to the core. */
import type { TokenSettings } from "./token-settings.js";
import type { HandlerResult, MountEntry, Operation, Storage } from "../../sdk/types.js";

export interface AuthRequest {
  operation: Operation;
  /** Path relative to the auth mount, e.g. "login/alice" for auth/userpass/login/alice. */
  path: string;
  data: Record<string, unknown>;
  storage: Storage;
  mount: MountEntry;
  /** Epoch milliseconds of the request (the core's clock). */
  now: number;
  /** The client's IP address, when the runtime adapter knows it (CIDR bindings need it). */
  clientAddress?: string;
}

/** A successful login: what the token the core issues should carry. */
export interface LoginGrant {
  /** Policies before "default" is added. */
  settings: TokenSettings;
  metadata: Record<string, string>;
  /** Suffix of the token's display name (after the mount path), e.g. the user name. */
  displayName: string;
}

export interface AuthMethod {
  /**
   * `path` (relative to the mount) with the name it targets in canonical form (see names.ts); 400
   * for a name that has none. The core applies it before the ACL check.
   */
  canonicalPath(path: string): string;
  /** Whether `path` (relative to the mount) is a login endpoint, which needs no token. */
  isLoginPath(path: string): boolean;
  /**
   * Who a login is for, as user lockout counts it (a username, a role ID), or null when the
   * request names nobody. Wrong credentials are reported by throwing `InvalidCredentials`.
   */
  lockoutAlias(request: AuthRequest): string | null;
  login(request: AuthRequest): Promise<LoginGrant>;
  handle(request: AuthRequest): Promise<HandlerResult>;
  /**
   * Vault's existence check: whether the object a write targets exists (so the write needs the
   * "update" capability rather than "create"); null when the path has no such check.
   */
  exists(request: AuthRequest): Promise<boolean | null>;
}
