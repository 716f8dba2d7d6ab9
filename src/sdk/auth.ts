/** What an auth method (userpass, AppRole) sees of a request and hands back to the core. */
import { type Endpoint, Endpoints } from "./framework.js";
import type { TokenSettings } from "./token-settings.js";
import { type EndpointFlags, type HandlerResult, LogicalError, type MountEntry, type Operation, type Storage, unsupportedOperation } from "./types.js";

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
  /** The TLS client certificate chain the listener verified (DER, leaf first). */
  clientCertificates?: Uint8Array[];
}

/** A renewal of a token this method issued: the method may refuse it (throw), as Vault's renew callbacks do. */
export interface AuthRenewRequest {
  storage: Storage;
  mount: MountEntry;
  now: number;
  /** The token's metadata, as its login set it. */
  metadata: Record<string, string>;
  /** The token's policies, "default" included when it has it. */
  policies: string[];
  clientAddress?: string;
  /** The TLS client certificate chain of the renewal request (DER, leaf first). */
  clientCertificates?: Uint8Array[];
}

/** A successful login: what the token the core issues should carry. */
export interface LoginGrant {
  /** Policies before "default" is added. */
  settings: TokenSettings;
  metadata: Record<string, string>;
  /** Suffix of the token's display name (after the mount path), e.g. the user name. */
  displayName: string;
  /**
   * Who logged in, as Vault names the entity alias for this method (a username, a role ID, an IAM
   * principal's ARN or unique ID, a JWT's user claim), with the alias metadata Vault sets.
   */
  alias?: { name: string; metadata?: Record<string, string> };
  /** Group names the method vouches for (a JWT groups claim): Vault's external group aliases. */
  groupAliases?: string[];
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
  /** Whether the login endpoint at `path` also takes a read (GET); logins are writes otherwise. */
  loginTakesRead?(path: string): boolean;
  handle(request: AuthRequest): Promise<HandlerResult>;
  /**
   * Vault's existence check: whether the object a write targets exists (so the write needs the
   * "update" capability rather than "create"); null when the path has no such check.
   */
  exists(request: AuthRequest): Promise<boolean | null>;
  /** What the endpoint serving `path` declares, or null (see framework.ts). */
  endpoint?(path: string): EndpointFlags | null;
  /** Checked before a token this method issued is renewed; throws to refuse the renewal. */
  renew?(request: AuthRenewRequest): Promise<void>;
}

export interface AuthMethodSpec {
  /** Endpoints behind a token: configuration, roles. */
  endpoints: Endpoint<AuthRequest>[];
  /** Login endpoints: no token needed; they answer with what the issued token carries. */
  logins: Endpoint<AuthRequest, LoginGrant>[];
  canonicalPath?(path: string): string;
  lockoutAlias?(request: AuthRequest): string | null;
  renew?(request: AuthRenewRequest): Promise<void>;
}

/** An auth method served from its declared endpoints. */
export function authMethod(spec: AuthMethodSpec): AuthMethod {
  const endpoints = new Endpoints(spec.endpoints);
  const logins = new Endpoints(spec.logins);
  const fullPath = (request: AuthRequest) => `auth/${request.mount.path}${request.path}`;
  return {
    canonicalPath: spec.canonicalPath ?? ((path) => path),
    isLoginPath: (path) => logins.match(path) !== null,
    lockoutAlias: spec.lockoutAlias ?? (() => null),
    login: (request) => logins.handle(request, fullPath(request)),
    loginTakesRead: (path) => logins.match(path)?.endpoint.operations.read !== undefined,
    handle: (request) => endpoints.handle(request, fullPath(request)),
    exists: (request) => endpoints.exists(request),
    // A login issues a token (a write) and may need state only the active holds (a pending OIDC login): never a standby's.
    endpoint: (path) => (logins.match(path) ? { unauthenticated: true, standby: false } : (endpoints.match(path)?.endpoint ?? null)),
    ...(spec.renew && { renew: spec.renew }),
  };
}

/**
 * Vault's renewal check for methods whose logins name a role (jwt, kubernetes): the role in the
 * token's metadata still exists and still grants the token's policies ("default" aside).
 */
export function roleStillGrants(
  readRole: (storage: Storage, name: string) => Promise<Pick<TokenSettings, "token_policies"> | null>,
): (request: AuthRenewRequest) => Promise<void> {
  return async ({ storage, metadata, policies }) => {
    const name = metadata.role ?? "";
    const role = name === "" ? null : await readRole(storage, name);
    if (!role) throw new LogicalError(400, `role ${JSON.stringify(name)} no longer exists; not renewing`);
    const named = (list: string[]) => [...new Set(list.filter((policy) => policy !== "default"))].sort().join(",");
    if (named(role.token_policies) !== named(policies)) throw new LogicalError(400, "policies have changed, not renewing");
  };
}

/** Wrong credentials (a 400, as Vault answers): counted toward the caller's lockout. */
export class InvalidCredentials extends LogicalError {
  constructor(message: string) {
    super(400, message);
  }
}

/** Vault's wording for requests an auth method cannot route, naming the full API path. */
export function noRoute({ mount, path }: Pick<AuthRequest, "mount" | "path">): LogicalError {
  return new LogicalError(404, `no handler for route "auth/${mount.path}${path}". route entry not found.`);
}

export function unsupportedAuthOperation({ mount, path, operation }: Pick<AuthRequest, "mount" | "path" | "operation">): LogicalError {
  return unsupportedOperation(`auth/${mount.path}${path}`, operation);
}
