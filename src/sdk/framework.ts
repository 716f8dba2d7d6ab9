/**
 * Endpoints declared, as Vault's `framework.Path` declares them: each says its pattern, the
 * operations it takes, and what the core must know before calling it (needs no token, needs sudo,
 * may be answered by a standby). The router, the ACL, standby reads and audit read these flags; an
 * engine or auth method only lists its endpoints.
 */
import {
  type EndpointFlags,
  type HandlerResult,
  type LogicalRequest,
  noHandler,
  type Operation,
  type SecretsEngine,
  type Storage,
  type MountEntry,
  unsupportedOperation,
} from "./types.js";

/** What every request an endpoint serves carries: the path relative to its mount and the operation. */
export interface RoutedRequest {
  operation: Operation;
  path: string;
}

/** The values a pattern captured, by name (`keys/:name` gives `{ name }`). */
export type Params = Record<string, string>;

export type Handler<Req, Res> = (request: Req, params: Params) => Promise<Res>;

export interface Endpoint<Req extends RoutedRequest, Res = HandlerResult> extends EndpointFlags {
  /**
   * Relative to the mount. Segments are literal, `:name` (one non-empty segment), `:name?` (an
   * optional last segment), or a last `*name` (the rest of the path, slashes included, non-empty).
   */
  pattern: string;
  /** Handlers by operation; "create" falls back to "update" (the ACL tells them apart, not the handler). */
  operations: Partial<Record<Operation, Handler<Req, Res>>>;
  /** Vault's existence check: whether what a write targets exists (creating needs "create"). */
  exists?: (request: Req, params: Params) => Promise<boolean>;
}

export interface Match<Req extends RoutedRequest, Res> {
  endpoint: Endpoint<Req, Res>;
  params: Params;
}

interface Compiled<Req extends RoutedRequest, Res> {
  endpoint: Endpoint<Req, Res>;
  regex: RegExp;
  names: string[];
  /** The pattern's first segment when it is literal, else null. */
  first: string | null;
}

/** A list of endpoints, matched in the order given (put literal paths before patterns that would take them). */
export class Endpoints<Req extends RoutedRequest, Res = HandlerResult> {
  /**
   * The endpoints a path may match, in the order given, by the path's first segment: those whose
   * pattern starts with that literal or with a parameter. A request is matched several times (its
   * flags, its existence check, its handler), each time against a few patterns instead of all.
   */
  readonly #byFirstSegment = new Map<string, Compiled<Req, Res>[]>();
  /** For a first segment no pattern names: the patterns that start with a parameter. */
  readonly #open: Compiled<Req, Res>[];

  constructor(readonly list: readonly Endpoint<Req, Res>[]) {
    const compiled = list.map((endpoint) => compile(endpoint));
    this.#open = compiled.filter((entry) => entry.first === null);
    for (const { first } of compiled) {
      if (first === null || this.#byFirstSegment.has(first)) continue;
      this.#byFirstSegment.set(
        first,
        compiled.filter((entry) => entry.first === first || entry.first === null),
      );
    }
  }

  match(path: string): Match<Req, Res> | null {
    const slash = path.indexOf("/");
    const candidates = this.#byFirstSegment.get(slash < 0 ? path : path.slice(0, slash)) ?? this.#open;
    for (const { endpoint, regex, names } of candidates) {
      const found = regex.exec(path);
      if (!found) continue;
      const params: Params = {};
      names.forEach((name, index) => {
        const value = found[index + 1];
        if (value !== undefined) params[name] = value;
      });
      return { endpoint, params };
    }
    return null;
  }

  /**
   * Calls the endpoint serving `request`: 404 when none matches, 405 when it does not take the
   * operation. `fullPath` is the API path, for Vault's error texts.
   */
  async handle(request: Req, fullPath: string): Promise<Res> {
    const match = this.match(request.path);
    if (!match) throw noHandler(fullPath);
    const handler = handlerFor(match.endpoint, request.operation);
    if (!handler) throw unsupportedOperation(fullPath, request.operation);
    return handler(request, match.params);
  }

  /** The existence check of the endpoint serving a write, or null where it has none. */
  async exists(request: Req): Promise<boolean | null> {
    const match = this.match(request.path);
    if (!match?.endpoint.exists || (request.operation !== "create" && request.operation !== "update")) return null;
    return match.endpoint.exists(request, match.params);
  }
}

export function handlerFor<Req extends RoutedRequest, Res>(endpoint: Endpoint<Req, Res>, operation: Operation): Handler<Req, Res> | undefined {
  return endpoint.operations[operation] ?? (operation === "create" ? endpoint.operations.update : undefined);
}

/** Whether a standby may answer `operation` on `endpoint` (see `Endpoint.standby`). */
export function standbyMayAnswer(endpoint: EndpointFlags, operation: Operation): boolean {
  if (operation === "read" || operation === "list") return endpoint.standby !== false;
  return endpoint.standby === true;
}

function compile<Req extends RoutedRequest, Res>(endpoint: Endpoint<Req, Res>): Compiled<Req, Res> {
  const names: string[] = [];
  const segments = endpoint.pattern.split("/");
  let source = "";
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    const separator = index === 0 ? "" : "/";
    const named = /^([:*])([A-Za-z_][A-Za-z0-9_]*)(\?)?$/.exec(segment);
    if (!named) {
      if (/[:*?]/.test(segment)) throw new Error(`endpoint pattern "${endpoint.pattern}": bad segment "${segment}"`);
      source += separator + escapeRegex(segment);
      return;
    }
    const [, kind, name, optional] = named;
    if ((kind === "*" || optional) && !last) throw new Error(`endpoint pattern "${endpoint.pattern}": "${segment}" must be the last segment`);
    names.push(name!);
    const capture = kind === "*" ? "(.+)" : "([^/]+)";
    source += optional ? `(?:${separator}${capture})?` : separator + capture;
  });
  const first = segments[0]!;
  return { endpoint, regex: new RegExp(`^${source}$`), names, first: /^[:*]/.test(first) ? null : first };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface SecretsEngineSpec {
  endpoints: Endpoint<LogicalRequest>[];
  /** Called once when the mount is enabled. */
  initialize?(storage: Storage, mount: MountEntry): Promise<void>;
  /** Scheduled work, on the active node about once a minute (SecretsEngine.periodic). */
  periodic?(storage: Storage, mount: MountEntry, now: Date): Promise<void>;
}

/** A secrets engine served from its declared endpoints. */
export function secretsEngine(spec: SecretsEngineSpec): SecretsEngine {
  const table = new Endpoints(spec.endpoints);
  return {
    initialize: spec.initialize,
    periodic: spec.periodic,
    handle: (request) => table.handle(request, request.mount.path + request.path),
    exists: (request) => table.exists(request),
    endpoint: (path) => table.match(path)?.endpoint ?? null,
  };
}
