import { JsonSyntaxError, MAX_JSON_DEPTH, parseScannedJson } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import { PIECE_BYTES, parseJsonInPieces } from "./json-pieces.js";

/**
 * The body limit of requests read without a caller's token (init, unseal, logins, operator key
 * shares, unwrapping) and of sys/ endpoints, whatever `max_request_size` allows: none of them takes
 * more than a few PGP keys or a policy, and the unauthenticated ones are anyone's to send.
 */
export const SMALL_BODY_LIMIT = 1024 * 1024;

/**
 * Most JSON values a body may hold (counted as its brackets, commas and colons). JSON.parse is the
 * one step that cannot yield to the event loop, and its time and memory grow with the count far
 * more than with the bytes: a body of millions of `{}` stalls a node for seconds.
 */
export const MAX_JSON_VALUES = 100_000;

/** The body is scanned and decoded this many bytes at a time, yielding to the event loop between slices. */
const SCAN_SLICE = 256 * 1024;

/** Vault's answer (Go's MaxBytesReader error) to a body over the limit. */
export class BodyTooLarge extends LogicalError {
  constructor() {
    super(413, "http: request body too large");
  }
}

/**
 * A GET or HEAD without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3). Not
 * touching the body of such a request spares the Node adapter building a full `Request` for it:
 * a third of a KV read's cost on a dev node.
 */
export function hasNoBody(request: Request): boolean {
  return (request.method === "GET" || request.method === "HEAD") && !request.headers.has("content-length") && !request.headers.has("transfer-encoding");
}

/** Whether the Content-Length alone passes `limit`: such a request is refused before anything else is done. */
export function declaresTooLarge(request: Request, limit: number): boolean {
  const declared = request.headers.get("content-length");
  return declared !== null && Number(declared) > limit;
}

/**
 * The request's body bytes, refused with a 413 as soon as its Content-Length or the bytes received
 * pass `limit`: the rest is never buffered (the stream is cancelled). `readRaw`, when the runtime
 * gives one, reads the bytes in place of the body stream, under the same limit.
 */
export async function readBody(request: Request, limit: number, readRaw?: (limit: number) => Promise<Uint8Array>): Promise<Uint8Array> {
  if (hasNoBody(request)) return new Uint8Array(0);
  if (declaresTooLarge(request, limit)) throw new BodyTooLarge();
  if (readRaw) return readRaw(limit);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > limit) {
      reader.cancel().catch(() => {});
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * A request body as Vault reads it: empty is `{}`, otherwise a JSON object. Numbers are kept
 * exact (a secret's 12345678901234567890 must not come back rounded); nesting is bounded, and so
 * is the number of values. A large body is scanned and decoded in slices with the event loop free
 * in between, so only the final JSON.parse runs in one go, over at most MAX_JSON_VALUES values;
 * when it holds only plain numbers it is parsed from its bytes in pieces (json-pieces.ts).
 */
export async function parseRequestBody(bytes: Uint8Array): Promise<Record<string, unknown>> {
  if (bytes.length === 0) return {}; // every GET
  const scan = new JsonScan();
  for (let from = 0; from < bytes.length; from += SCAN_SLICE) {
    if (from > 0) await yieldToEventLoop();
    if (!scan.scan(bytes.subarray(from, Math.min(bytes.length, from + SCAN_SLICE)))) {
      throw new LogicalError(400, `failed to parse JSON input: more than ${MAX_JSON_VALUES} values (objects, arrays, members and elements)`);
    }
  }
  const plain = !scan.mayHoldInexactNumber && scan.deepest <= MAX_JSON_DEPTH;
  const pieces = plain && bytes.length > PIECE_BYTES ? parseJsonInPieces(bytes) : null;
  let parsed: unknown;
  if (pieces) {
    parsed = pieces.value;
  } else {
    const text = await decodeInSlices(bytes);
    if (text.trim() === "") return {};
    try {
      parsed = parseScannedJson(text, plain);
    } catch (error) {
      if (error instanceof JsonSyntaxError) throw new LogicalError(400, `failed to parse JSON input: ${error.message}`);
      throw error;
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new LogicalError(400, "failed to parse JSON input: the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

async function decodeInSlices(bytes: Uint8Array): Promise<string> {
  if (bytes.length <= SCAN_SLICE) return new TextDecoder().decode(bytes);
  const decoder = new TextDecoder();
  const parts: string[] = [];
  for (let from = 0; from < bytes.length; from += SCAN_SLICE) {
    if (from > 0) await yieldToEventLoop();
    parts.push(decoder.decode(bytes.subarray(from, Math.min(bytes.length, from + SCAN_SLICE)), { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join("");
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * One pass over JSON bytes, slice by slice, outside strings: how many values (brackets, commas,
 * colons), how deep, and whether a number may be one a double would change (16 digits or more, or
 * an exponent of three digits: the same test as encoding.ts's mayHoldInexactNumber, which the text
 * then skips). Malformed JSON may count either way; the parser refuses it afterwards.
 */
class JsonScan {
  values = 0;
  deepest = 0;
  mayHoldInexactNumber = false;
  #depth = 0;
  #inString = false;
  #escaped = false;
  #digitRun = 0;
  /** Digits of the exponent under way, or -1 outside an exponent. */
  #exponentDigits = -1;

  /** Scans the next bytes; false as soon as the value count passes MAX_JSON_VALUES. */
  scan(bytes: Uint8Array): boolean {
    for (let i = 0; i < bytes.length; i++) {
      const code = bytes[i]!;
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
          continue;
        }
        // Strings are most of a large body: jump to the next quote, escaped when an odd run of backslashes ends there.
        const quote = bytes.indexOf(QUOTE, i);
        const runEnd = quote < 0 ? bytes.length : quote;
        let backslashes = 0;
        while (runEnd - 1 - backslashes >= i && bytes[runEnd - 1 - backslashes] === BACKSLASH) backslashes++;
        if (quote < 0) {
          this.#escaped = backslashes % 2 === 1;
          break;
        }
        if (backslashes % 2 === 0) this.#inString = false;
        i = quote;
        continue;
      }
      if ((code >= 0x30 && code <= 0x39) || code === 0x2e /* . */) {
        if (++this.#digitRun >= 16) this.mayHoldInexactNumber = true;
        if (this.#exponentDigits >= 0 && ++this.#exponentDigits >= 3) this.mayHoldInexactNumber = true;
        continue;
      }
      this.#digitRun = 0;
      if (code === 0x65 /* e */ || code === 0x45 /* E */) {
        this.#exponentDigits = 0;
        continue;
      }
      if (code === 0x2b /* + */ || code === 0x2d /* - */) continue;
      this.#exponentDigits = -1;
      switch (code) {
        case QUOTE:
          this.#inString = true;
          break;
        case 0x7b /* { */:
        case 0x5b /* [ */:
          this.deepest = Math.max(this.deepest, ++this.#depth);
          if (++this.values > MAX_JSON_VALUES) return false;
          break;
        case 0x7d /* } */:
        case 0x5d /* ] */:
          this.#depth--;
          break;
        case 0x2c /* , */:
        case 0x3a /* : */:
          if (++this.values > MAX_JSON_VALUES) return false;
      }
    }
    return true;
  }
}

/** The logical path of a `/v1/...` URL path, percent-decoded; a malformed escape is the client's error. */
export function decodeRequestPath(pathname: string): string {
  try {
    return decodeURIComponent(pathname.slice("/v1/".length));
  } catch {
    throw new LogicalError(400, "invalid request path: malformed percent-encoding (a % must start a valid UTF-8 escape such as %2F)");
  }
}
