/**
 * The HTTP requests auth methods make themselves (a JWKS, an OIDC discovery document, a Kubernetes
 * TokenReview). Web `fetch` serves them, which runs everywhere but cannot trust a CA of the
 * operator's own (`jwks_ca_pem`, `kubernetes_ca_cert`): a runtime that can (adapters/node) installs
 * a transport for requests that carry one. Without it such a request is refused, never sent with
 * the CA silently ignored.
 */

export interface OutboundRequest {
  method: "GET" | "POST";
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** PEM certificates to trust instead of the system's (one or more). */
  caPem?: string;
}

export interface OutboundResponse {
  status: number;
  body: string;
}

export type OutboundTransport = (request: OutboundRequest) => Promise<OutboundResponse>;

/** A slow or silent server fails the login instead of holding it. */
export const OUTBOUND_TIMEOUT_MS = 10_000;
/** JWKS, discovery documents and TokenReviews are a few KiB; a larger answer is refused. */
export const OUTBOUND_MAX_BODY_BYTES = 1024 * 1024;

let customCaTransport: OutboundTransport | null = null;

/** Installed once by a runtime adapter that can verify TLS against a CA given in the request. */
export function setCustomCaTransport(transport: OutboundTransport | null): void {
  customCaTransport = transport;
}

export async function outboundHttp(request: OutboundRequest): Promise<OutboundResponse> {
  const url = new URL(request.url);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`unsupported URL scheme "${url.protocol}"`);
  if (request.caPem) {
    if (!customCaTransport) throw new Error("a custom CA certificate cannot be used in this runtime");
    return customCaTransport(request);
  }
  const response = await fetch(url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    // A POST carries a bearer token: never replay it to wherever a redirect points.
    redirect: request.method === "GET" ? "follow" : "error",
    signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS),
  });
  return { status: response.status, body: await boundedText(response) };
}

async function boundedText(response: Response): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > OUTBOUND_MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw new Error(`response larger than ${OUTBOUND_MAX_BODY_BYTES} bytes`);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > OUTBOUND_MAX_BODY_BYTES) {
      await reader.cancel();
      throw new Error(`response larger than ${OUTBOUND_MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
