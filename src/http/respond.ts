import { SealedError } from "../barrier/types.js";
import { FencedError } from "../physical/ha.js";
import type { Logger } from "../sdk/logger.js";
import { fromBase64 } from "../sdk/encoding.js";
import { type HandlerResult, LogicalError } from "../sdk/types.js";
import { jsonBody } from "./json-body.js";

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

export function json(body: unknown, status = 200): Response {
  return new Response(jsonBody(body), { status, headers: JSON_HEADERS });
}

/** Vault's `{"errors":[...]}`; an empty message means an empty list (how Vault answers a missing secret). */
export function errorResponse(status: number, message: string, extra?: Record<string, unknown>): Response {
  return json({ ...extra, errors: message ? [message] : [] }, status);
}

/**
 * Wraps a handler result in Vault's response envelope; `null` is 204. `topLevel` fields are
 * repeated beside the envelope (Vault does so for sys/mounts and friends; older clients read them there).
 */
export function envelope(result: HandlerResult, topLevel?: Record<string, unknown>): Response {
  if (result === null) return new Response(null, { status: 204 });
  return json({
    ...topLevel,
    request_id: crypto.randomUUID(),
    lease_id: result.lease_id ?? "",
    renewable: result.renewable ?? false,
    lease_duration: result.lease_duration ?? 0,
    data: result.data ?? null,
    wrap_info: result.wrap_info ?? null,
    warnings: result.warnings ?? null,
    auth: result.auth ?? null,
    mount_type: result.mount_type ?? "",
  });
}

/**
 * Vault's raw responses: a result marked `raw` (a CA certificate, a CRL) is answered with `http_raw_body` as the body and `http_content_type` as its type, not
 * an envelope. The body is base64 text of the bytes, as Vault's JSON carries []byte; text that
 * is not base64 is sent as it is (Vault's RespondWithStatusCode puts JSON text there). Null
 * when the result is no raw response.
 */
export function rawResponse(result: HandlerResult): Response | null {
  const data = result?.data;
  if (!result?.raw || !data) return null;
  const status = Number(data.http_status_code);
  if (!Number.isInteger(status) || status < 200 || status > 599) return errorResponse(500, "cannot decode status code");
  if (status === 204) return new Response(null, { status });
  const contentType = data.http_content_type;
  if (typeof contentType !== "string") return errorResponse(500, "no content type given");
  const rawBody = data.http_raw_body;
  let body: Uint8Array<ArrayBuffer>;
  if (typeof rawBody !== "string") body = new Uint8Array();
  else {
    try {
      body = fromBase64(rawBody);
    } catch {
      body = new TextEncoder().encode(rawBody);
    }
  }
  return new Response(body, { status, headers: { "content-type": contentType } });
}

/** Maps any thrown error to Vault's error shape; unexpected ones are logged and hidden. */
export function errorFromThrown(error: unknown, logger: Logger): Response {
  if (error instanceof LogicalError) return errorResponse(error.status, error.message, error.body);
  if (error instanceof SealedError) return errorResponse(503, "Vault is sealed");
  if (error instanceof FencedError) {
    // This node lost active duty mid-request and storage refused its write: the client should retry.
    const response = errorResponse(503, "this node stopped being the active node during the request; retry it");
    response.headers.set("retry-after", "1");
    return response;
  }
  logger.error("request failed", { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  return errorResponse(500, "internal error");
}
