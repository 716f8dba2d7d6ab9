/** What a secrets engine or the token store sees of a request and returns as a response. */

export type Operation = "read" | "create" | "update" | "delete" | "list" | "patch";

/** Plaintext storage below the barrier, scoped to one mount (keys are relative to it). */
export interface Storage {
  get(key: string): Promise<Uint8Array | null>;
  /** As `Backend.getShared`: bytes never to be modified, the same object while unchanged (see readShared). */
  getShared?(key: string): Promise<Uint8Array | null>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Immediate children of `prefix` ('' or ending in '/'), folders suffixed by '/', sorted. */
  list(prefix: string): Promise<string[]>;
}

/** `storage.getShared(key)` where it has one, else `get`: bytes the caller must not modify. */
export function readShared(storage: Pick<Storage, "get" | "getShared">, key: string): Promise<Uint8Array | null> {
  return storage.getShared ? storage.getShared(key) : storage.get(key);
}

/** One API request as the router takes it, whatever runtime received it. */
export interface CoreRequest {
  operation: Operation;
  /** API path without "/v1/", e.g. "secret/data/foo". */
  path: string;
  data: Record<string, unknown>;
  /**
   * A write's body, read and parsed when the router asks: once the request's token is found live,
   * or at once where none is needed. A caller refused for its token never makes the node read or
   * parse a body. `data` holds the result from then on.
   */
  body?: () => Promise<Record<string, unknown>>;
  token: string;
  /** The client's IP address, filled in by the HTTP adapter when the runtime exposes it (CIDR bindings). */
  clientAddress?: string;
  /** The X-Vault-Wrap-TTL header, when sent: the response is then wrapped (wrapping.ts). */
  wrapTtl?: string;
  /** The client's source port, when the runtime exposes it (audit entries' remote_port). */
  clientPort?: number;
  /** The TLS client certificate chain the listener verified (DER, leaf first), for the cert auth method. */
  clientCertificates?: Uint8Array[];
}

export interface LogicalRequest {
  operation: Operation;
  /** Path relative to the mount, without leading '/', e.g. "data/foo" for secret/data/foo. */
  path: string;
  /** Parsed JSON body for create/update/patch; query parameters (strings) for read/list/delete. */
  data: Record<string, unknown>;
  storage: Storage;
  /** The mount's configuration (KV v2 reads `options.version`, etc.). */
  mount: MountEntry;
}

export interface LogicalResponse {
  data?: Record<string, unknown> | null;
  warnings?: string[] | null;
  /** Token auth block (login, token create). */
  auth?: Record<string, unknown> | null;
  lease_duration?: number;
  renewable?: boolean;
  lease_id?: string;
  /** Set instead of the rest when the response was wrapped (X-Vault-Wrap-TTL): the wrapping token. */
  wrap_info?: Record<string, unknown> | null;
  /** Set by the router: the type of the mount that answered. */
  mount_type?: string;
  /**
   * Vault's raw response: `data` carries `http_status_code`, `http_content_type` and
   * `http_raw_body`, sent as the bare HTTP response. Only an engine sets it, so stored user data
   * holding those keys (a KV secret) is never mistaken for one.
   */
  raw?: boolean;
}

/** Result of handling: a response body (200), or `null` meaning 204 No Content. */
export type HandlerResult = LogicalResponse | null;

/** A request error reported to the client as `{"errors":[message]}` with `status`. */
export class LogicalError extends Error {
  override name = "LogicalError";
  constructor(
    readonly status: number,
    message: string,
    /** Extra body fields next to `errors` (KV v2 puts `data` on a 404 of a deleted version). */
    readonly body?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface MountEntry {
  /** Mount path with trailing slash, e.g. "secret/". */
  path: string;
  type: string;
  description: string;
  accessor: string;
  uuid: string;
  config: { default_lease_ttl: number; max_lease_ttl: number };
  options: Record<string, string>;
  local: boolean;
  seal_wrap: boolean;
}

/** A secrets engine: one instance per engine type; state lives in the mount's storage. */
export interface SecretsEngine {
  /** Called once when the mount is enabled (KV v2 writes its config). */
  initialize?(storage: Storage, mount: MountEntry): Promise<void>;
  handle(request: LogicalRequest): Promise<HandlerResult>;
  /**
   * Vault's existence check: whether what a write targets exists (so the write needs the "update"
   * capability rather than "create"); null (or no method) when the path has no such check.
   */
  exists?(request: LogicalRequest): Promise<boolean | null>;
  /** What the endpoint serving `path` (relative to the mount) declares, or null (see framework.ts). */
  endpoint?(path: string): EndpointFlags | null;
  /**
   * Vault's PeriodicFunc: scheduled work such as key rotation, called about once a minute on the
   * active node only (it may write).
   */
  periodic?(storage: Storage, mount: MountEntry, now: Date): Promise<void>;
}

/** What the core must know of an endpoint before calling it (declared in framework.ts's `Endpoint`). */
export interface EndpointFlags {
  /** Served without a token (logins, a CA's public certificate, OIDC discovery). */
  unauthenticated?: boolean;
  /** Needs the `sudo` capability on the path besides the operation's own (Vault's root paths). */
  sudo?: boolean;
  /**
   * Whether a standby may answer it from its own read view. Reads and lists may unless this is
   * false; a write may only when this is true (it must write nothing: a standby's storage refuses).
   */
  standby?: boolean;
  /** Authorized by a threshold of operator key shares instead of a token (served by the active). */
  operatorKey?: boolean;
}

/** Builds the engine serving one mount (an engine type's entry in builtin/catalog.ts). */
export type SecretsEngineFactory = (mount: MountEntry, context: EngineContext) => SecretsEngine;

export interface EngineContext {
  /** The system-wide lease TTLs, in seconds (a mount's own are in `mount.config`, 0 meaning these). */
  leaseTtls: { defaultSeconds: number; maxSeconds: number };
}

/**
 * Vault's 405 for an operation a path does not take, naming the full API path and the operation
 * (an HTTP method where no operation was derived); bare, as Vault's KV engines answer, without them.
 */
export function unsupportedOperation(path?: string, operation?: string): LogicalError {
  return new LogicalError(405, path === undefined ? "unsupported operation" : `unsupported operation "${operation}" on path "${path}"`);
}

/** Vault's answer to a request its policies do not allow. */
export function permissionDenied(): LogicalError {
  return new LogicalError(403, "1 error occurred:\n\t* permission denied\n\n");
}

export function noHandler(path: string): LogicalError {
  return new LogicalError(404, `no handler for route "${path}". route entry not found.`);
}
