import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type Core, StandbyError } from "../core.js";
import { type Logger, silentLogger } from "../logger.js";
import { LogicalError, type Operation } from "../logical/types.js";
import { envelope, errorFromThrown, errorResponse } from "./respond.js";
import { routeFromStandby } from "./standby.js";
import { handleUnauthenticated, UNAUTHENTICATED_PATHS } from "./sys-unauthenticated.js";

export interface AppOptions {
  core: Core;
  /** Bytes; `Infinity` disables the limit. */
  maxRequestSize: number;
  logger?: Logger;
}

/** The Vault HTTP API as a Hono app; runtime adapters serve it. */
export function createApp(options: AppOptions): Hono {
  const { core } = options;
  const logger = (options.logger ?? silentLogger).named("http");
  const app = new Hono();

  if (Number.isFinite(options.maxRequestSize)) {
    app.use("*", bodyLimit({ maxSize: options.maxRequestSize, onError: () => errorResponse(413, "http: request body too large") }));
  }

  app.all("/v1/*", async (c) => {
    try {
      const url = new URL(c.req.url);
      const path = decodeURIComponent(url.pathname.slice("/v1/".length));
      const method = c.req.method.toUpperCase();
      if (UNAUTHENTICATED_PATHS.has(path)) {
        return await handleUnauthenticated(core, path, method, url.searchParams, await readBody(c.req.raw));
      }
      if (core.sealed) return errorResponse(503, "Vault is sealed");
      if (!core.isActive()) return await routeFromStandby(core, c.req.raw);
      const body = await readBody(c.req.raw);
      const operation = operationFor(method, url.searchParams);
      const data = operation === "create" || operation === "update" || operation === "patch" ? body : queryData(url.searchParams);
      const result = await core.handle({ operation, path, data, token: requestToken(c.req.raw.headers), clientAddress: clientAddress(c.env) });
      if (repeatsDataAtTopLevel(path) && result?.data) return envelopeWithTopLevel(result.data, envelope(result));
      return envelope(result);
    } catch (error) {
      // Lost the lock while handling: the request was not served as active, so route it.
      if (error instanceof StandbyError) return routeFromStandby(core, c.req.raw).catch((e) => errorFromThrown(e, logger));
      return errorFromThrown(error, logger);
    }
  });

  app.notFound(() => errorResponse(404, "not found"));
  app.onError((error) => errorFromThrown(error, logger));
  return app;
}

function operationFor(method: string, query: URLSearchParams): Operation {
  switch (method) {
    case "GET":
    case "HEAD":
      return query.get("list") === "true" ? "list" : "read";
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

async function readBody(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LogicalError(400, `failed to parse JSON input: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new LogicalError(400, "failed to parse JSON input: the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

function queryData(query: URLSearchParams): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of query) if (key !== "list") data[key] = value;
  return data;
}

/** Paths whose `data` Vault repeats at the top level of the response; older clients read it there. */
function repeatsDataAtTopLevel(path: string): boolean {
  if (["sys/capabilities", "sys/capabilities-self", "sys/capabilities-accessor"].includes(path)) return true;
  return ["sys/auth", "sys/mounts", "sys/policy"].some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/**
 * The client's IP address where the runtime exposes the socket: Node's adapter hands the app
 * `{ incoming }` as its env. Other runtimes leave it undefined (CIDR-bound logins then fail closed).
 */
function clientAddress(env: unknown): string | undefined {
  const address = (env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming?.socket?.remoteAddress;
  return typeof address === "string" ? address : undefined;
}

/** `X-Vault-Token`, else `Authorization: Bearer`. */
function requestToken(headers: Headers): string {
  const token = headers.get("x-vault-token");
  if (token) return token;
  const authorization = headers.get("authorization") ?? "";
  return /^Bearer\s+/i.test(authorization) ? authorization.replace(/^Bearer\s+/i, "").trim() : "";
}

async function envelopeWithTopLevel(data: Record<string, unknown>, response: Response): Promise<Response> {
  const body = (await response.json()) as Record<string, unknown>;
  return new Response(JSON.stringify({ ...data, ...body }), { status: response.status, headers: response.headers });
}
