import { Hono } from "hono";
import type { Core } from "../core.js";
import { StandbyError } from "../ha/standby-error.js";
import { type Logger, silentLogger } from "../sdk/logger.js";
import { parseFlag } from "../sdk/fields.js";
import { type HandlerResult, LogicalError, type Operation } from "../sdk/types.js";
import { envelope, errorFromThrown, errorResponse, rawResponse } from "./respond.js";
import { BodyTooLarge, declaresTooLarge, decodeRequestPath, parseRequestBody, readBody, SMALL_BODY_LIMIT } from "./request-body.js";
import { METRICS_PATH, serveMetrics } from "./metrics-endpoint.js";
import type { MetricsExporter } from "../metrics/metrics.js";
import { notServedHere, routeFromStandby, type StandbyRouting } from "./standby.js";
import { NODE_ENDPOINTS } from "./node-endpoints.js";
import type { NodeCall } from "./node-call.js";

export interface AppOptions {
  core: Core;
  /**
   * Body limit in bytes (`Infinity`: none) where the listener sets none: requests a standby
   * forwards (it applied its own listener's), and embedders' requests.
   */
  maxRequestSize: number;
  logger?: Logger;
  /**
   * How long a standby holds a request while no active node is known (`standby_hold_timeout`);
   * the server passes its configured value, other embedders get no hold.
   */
  standbyHoldMs?: number;
  /** sys/metrics' source (the adapter's registry); without it sys/metrics answers 404. */
  metrics?: MetricsExporter;
}

/**
 * What the runtime adapter passes as the fetch `env`: the client's address as the adapter knows it
 * (the socket's peer, or for a request forwarded by a standby, the address that standby saw).
 * Client-sent `X-Forwarded-For` is never trusted.
 */
export interface RequestEnv {
  clientAddress?: string;
  clientPort?: number;
  /** The listener's `telemetry { unauthenticated_metrics_access = true }`. */
  unauthenticatedMetrics?: boolean;
  /** Set by the cluster listener: the request was forwarded by a standby to this node as the active. */
  forwarded?: boolean;
  /** The listener's `max_request_size` in bytes (`Infinity`: none). */
  maxRequestSize?: number;
  /**
   * The TLS client certificate chain (DER, leaf first): from the API listener's own handshake, or
   * for a forwarded request, the chain the standby's listener received. Never from a client header.
   */
  clientCertificates?: Uint8Array[];
  /**
   * The body's bytes read by the runtime, refused with BodyTooLarge past `limit`, in place of
   * reading the `Request`'s body stream (which a runtime may have to build just for that).
   */
  readBody?: (limit: number) => Promise<Uint8Array>;
}

/** The Vault HTTP API as a Hono app; runtime adapters serve it. */
export function createApp(options: AppOptions): Hono<{ Bindings: RequestEnv }> {
  const { core } = options;
  const logger = (options.logger ?? silentLogger).named("http");
  const operatorKeysLogger = logger.named("operator-keys");
  const app = new Hono<{ Bindings: RequestEnv }>();
  const standbyRouting = (leadership: NonNullable<Core["leadership"]>, request: Request, env: RequestEnv | undefined): StandbyRouting => ({
    leadership,
    logger: logger.named("forwarding"),
    holdMs: options.standbyHoldMs ?? 0,
    // Became active while the request was held: serve it as any request to the active.
    serveHere: async (body) => app.fetch(rebuildRequest(request, body), { ...env, readBody: undefined }),
  });

  app.all("/v1/*", async (c) => {
    const client = c.env?.clientAddress;
    let rawBody: Uint8Array | undefined;
    let limit = options.maxRequestSize;
    const body = async () => (rawBody ??= await readBody(c.req.raw, limit, c.env?.readBody));
    try {
      const url = new URL(c.req.url);
      const path = decodeRequestPath(url.pathname);
      const method = c.req.method.toUpperCase();
      const nodeEndpoint = NODE_ENDPOINTS.match(path)?.endpoint;
      limit = bodyLimit(path, nodeEndpoint !== undefined, c.env?.maxRequestSize ?? options.maxRequestSize);
      if (declaresTooLarge(c.req.raw, limit)) throw new BodyTooLarge();
      const operation = operationFor(method, url.searchParams);
      const token = requestToken(c.req.raw.headers);
      const request = {
        operation,
        path,
        data: {} as Record<string, unknown>,
        token,
        clientAddress: client,
        clientPort: c.env?.clientPort,
        wrapTtl: undefined as string | undefined,
        clientCertificates: c.env?.clientCertificates,
      };
      const serveNode = async () => {
        const call: NodeCall = {
          operation,
          path,
          method,
          query: url.searchParams,
          body: await parseRequestBody(await body()),
          request,
          core,
          logger: operatorKeysLogger,
        };
        return NODE_ENDPOINTS.handle(call, path);
      };
      if (nodeEndpoint?.unauthenticated) return await serveNode();
      if (path === METRICS_PATH) {
        return await serveMetrics(core, options.metrics, {
          method,
          query: url.searchParams,
          token,
          clientAddress: client,
          clientPort: c.env?.clientPort,
          unauthenticated: c.env?.unauthenticatedMetrics === true,
        });
      }
      // A standby forwarded this to us as the active; we are not (any more): it will send it elsewhere.
      if (c.env?.forwarded && !core.isActive()) return notServedHere();
      if (core.sealed) return errorResponse(503, "Vault is sealed");
      const takesBody = operation === "create" || operation === "update" || operation === "patch";
      request.wrapTtl = c.req.raw.headers.get("x-vault-wrap-ttl") ?? undefined;
      if (core.leadership && !core.isActive()) {
        // A body is the active's to parse (a standby passes its bytes on), unless its endpoint lets a standby answer it.
        const local = forcedToActive(c.req.raw.headers)
          ? undefined
          : !takesBody
            ? await core.leadership.standbyRead({ ...request, data: queryData(url.searchParams) })
            : (await core.leadership.standbyAnswersWrite(request))
              ? await core.leadership.standbyRead({ ...request, data: await parseRequestBody(await body()) })
              : undefined;
        if (local !== undefined) return respond(path, local);
        return await routeFromStandby(
          standbyRouting(core.leadership, c.req.raw, c.env),
          c.req.raw,
          client,
          c.env?.clientPort,
          await body(),
          c.env?.clientCertificates,
        );
      }
      if (nodeEndpoint?.operatorKey) return await serveNode();
      // The router reads the body only once the token is found live: an anonymous client's is never parsed.
      if (takesBody) return respond(path, await core.requests.handle({ ...request, body: async () => parseRequestBody(await body()) }));
      request.data = queryData(url.searchParams);
      return respond(path, await core.requests.handle(request));
    } catch (error) {
      // Lost the lock while handling: the request was not served as active, so route it.
      if (error instanceof StandbyError && core.leadership) {
        if (c.env?.forwarded) return notServedHere();
        return body()
          .then((bytes) =>
            routeFromStandby(standbyRouting(core.leadership!, c.req.raw, c.env), c.req.raw, client, c.env?.clientPort, bytes, c.env?.clientCertificates),
          )
          .catch((e) => errorFromThrown(e, logger));
      }
      return errorFromThrown(error, logger);
    }
  });

  app.notFound(() => errorResponse(404, "not found"));
  app.onError((error) => errorFromThrown(error, logger));
  return app;
}

/** A path's body limit: small where the body is read without a token (or is sys/'s), else the listener's. */
function bodyLimit(path: string, nodeEndpoint: boolean, listenerLimit: number): number {
  const small = nodeEndpoint || path.startsWith("sys/") || isLoginPath(path);
  return small ? Math.min(SMALL_BODY_LIMIT, listenerLimit) : listenerLimit;
}

/** Vault's login paths by their shape (`auth/<mount>/login`, `auth/<mount>/login/<name>`), whichever method is mounted. */
function isLoginPath(path: string): boolean {
  return path.startsWith("auth/") && !path.startsWith("auth/token/") && /\/login(\/|$)/.test(path);
}

function respond(path: string, result: HandlerResult): Response {
  return rawResponse(result) ?? envelope(result, repeatsDataAtTopLevel(path) ? (result?.data ?? undefined) : undefined);
}

/** `X-Vault-Forward: active-node` (as Vault Enterprise): the active answers, even a read a standby could. */
function forcedToActive(headers: Headers): boolean {
  return headers.get("x-vault-forward")?.trim().toLowerCase() === "active-node";
}

/** The same request with its body (already read) attached again. */
function rebuildRequest(request: Request, body: Uint8Array): Request {
  const hasBody = body.length > 0 && request.method !== "GET" && request.method !== "HEAD";
  return new Request(request.url, { method: request.method, headers: request.headers, body: hasBody ? body.slice() : undefined });
}

function operationFor(method: string, query: URLSearchParams): Operation {
  switch (method) {
    case "GET":
    case "HEAD":
      // Vault reads `list` with Go's strconv.ParseBool: "1", "t", "TRUE", … or "0", "f", …; anything else is a 400.
      return parseFlag("list", query.get("list") || undefined) ? "list" : "read";
    case "LIST":
      return "list";
    case "POST":
    case "PUT":
      return "update";
    case "DELETE":
      return "delete";
    case "PATCH":
      return "patch";
    default:
      throw new LogicalError(405, `unsupported HTTP method ${method}`);
  }
}

function queryData(query: URLSearchParams): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of query) if (key !== "list") data[key] = value;
  return data;
}

/** Paths whose `data` Vault repeats at the top level of the response; older clients read it there. */
function repeatsDataAtTopLevel(path: string): boolean {
  if (path === "sys/audit" || path.startsWith("sys/audit-hash/")) return true;
  if (["sys/capabilities", "sys/capabilities-self", "sys/capabilities-accessor", "sys/key-status"].includes(path)) return true;
  return ["sys/auth", "sys/mounts", "sys/policy"].some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** `X-Vault-Token`, else `Authorization: Bearer`. */
function requestToken(headers: Headers): string {
  const token = headers.get("x-vault-token");
  if (token) return token;
  const authorization = headers.get("authorization") ?? "";
  return /^Bearer\s+/i.test(authorization) ? authorization.replace(/^Bearer\s+/i, "").trim() : "";
}
