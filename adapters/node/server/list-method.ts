import { Duplex } from "node:stream";
import type { Socket } from "node:net";

/**
 * Vault clients send the non-standard `LIST` verb, which Node's HTTP parser rejects outright. Each
 * connection passes through this stream, which rewrites a request line `LIST /p?q HTTP/1.1` into
 * `GET /p?q&list=true HTTP/1.1` — the form Vault itself accepts as equivalent — before the parser
 * sees it. Only a real request line is rewritten: {@link ListRequestRewriter} follows each
 * request's framing, so body bytes that look like a request line pass unchanged.
 */
export class ListMethodSocket extends Duplex {
  readonly #socket: Socket;
  /** The client a PROXY protocol header named, which stands in for the socket's peer. */
  readonly #proxied: { address: string; port: number } | undefined;

  constructor(socket: Socket, proxied?: { address: string; port: number }) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    this.#proxied = proxied;
    const rewriter = new ListRequestRewriter();
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(rewriter.rewrite(chunk))) socket.pause();
    });
    socket.on("end", () => {
      const unfinished = rewriter.flush();
      if (unfinished.length > 0) this.push(unfinished);
      this.push(null);
    });
    socket.on("close", () => this.destroy());
    socket.on("error", (error) => this.destroy(error));
    socket.on("timeout", () => this.emit("timeout"));
  }

  get remoteAddress(): string | undefined {
    return this.#proxied ? this.#proxied.address : this.#socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#proxied ? this.#proxied.port : this.#socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    if (this.#proxied) return this.#proxied.address.includes(":") ? "IPv6" : "IPv4";
    return this.#socket.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.#socket.localPort;
  }

  /** Whether the connection is TLS: tells the HTTP layer the request's scheme. */
  get encrypted(): boolean {
    return (this.#socket as Socket & { encrypted?: boolean }).encrypted === true;
  }

  /** The TLS socket underneath, when there is one (client certificates, ALPN). */
  get underlying(): Socket {
    return this.#socket;
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.#socket.setTimeout(ms);
    if (callback) this.once("timeout", callback);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Node's HTTP response ends with an empty write; passed on, it costs a write system call per response.
    // Writes reach _write one at a time, so every earlier chunk is already with the socket.
    if (chunk.length === 0) return callback();
    this.#socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy(error ?? undefined);
    callback(error);
  }
}

const LIST_REQUEST_LINE = /^LIST (\S+) (HTTP\/1\.[01])\r?\n$/;
const LIST_PREFIX = Buffer.from("LIST ", "latin1");
const CR = 0x0d;
const LF = 0x0a;
/** Past these sizes Node's parser (16 KB of headers) has refused the request; we stop following. */
const MAX_REQUEST_LINE = 16 * 1024;
const MAX_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 4 * 1024;

type Framing =
  /** Before a request: the bytes of a line that may start with `LIST ` are held back. */
  | "request-line"
  | "head"
  | "body"
  | "chunk-size"
  | "chunk-data"
  | "chunk-end"
  | "trailers"
  /** Framing we do not follow (the parser refuses it, or the protocol switches): bytes pass untouched. */
  | "opaque";

/**
 * Follows one connection's HTTP/1.1 request framing — heads, Content-Length bodies, chunked bodies
 * and trailers — to rewrite a `LIST` request line where, and only where, a request starts. When
 * the framing is anything the parser would refuse or treat specially (both Content-Length and
 * Transfer-Encoding, a bad length, Upgrade), it stops rewriting for the rest of the connection:
 * the safe direction, since an unrewritten LIST is merely refused.
 */
export class ListRequestRewriter {
  #framing: Framing = "request-line";
  /** Held bytes of a possible LIST request line from earlier chunks. */
  #held: Buffer[] = [];
  /** Bytes of the request line seen so far (held ones included). */
  #requestLineLength = 0;
  /** The current head, chunk-size or trailer line so far (latin1). */
  #line = "";
  #headLength = 0;
  #requestLineSeen = false;
  #contentLengths: string[] = [];
  #transferEncodings: string[] = [];
  #upgrade = false;
  /** Bytes left in the current body or chunk. */
  #remaining = 0;

  /** The bytes to hand the HTTP parser for `chunk` (some may be held until a request line ends). */
  rewrite(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let emitFrom = 0; // chunk[emitFrom..i) is passed on unchanged when the chunk ends or holding starts
    let i = 0;
    while (i < chunk.length) {
      switch (this.#framing) {
        case "opaque":
          i = chunk.length;
          break;
        case "request-line": {
          const byte = chunk[i]!;
          const position = this.#requestLineLength;
          if (position === 0) {
            if (byte === CR || byte === LF) {
              i++; // blank lines between requests, which parsers skip
              break;
            }
            out.push(chunk.subarray(emitFrom, i));
            emitFrom = i; // from here on, this line's bytes are held
          }
          if (position < LIST_PREFIX.length && byte !== LIST_PREFIX[position]) {
            // Not LIST: what was held goes out unchanged, followed by this chunk's part of the line.
            out.push(...this.#releaseHeld());
            this.#startHead(false);
          } else if (byte === LF) {
            const line = Buffer.concat([...this.#releaseHeld(), chunk.subarray(emitFrom, i + 1)]);
            out.push(rewriteListRequestLine(line));
            emitFrom = ++i;
            this.#startHead(true);
          } else if (position >= MAX_REQUEST_LINE) {
            out.push(...this.#releaseHeld());
            this.#framing = "opaque";
          } else {
            this.#requestLineLength++;
            i++;
          }
          break;
        }
        case "body":
        case "chunk-data": {
          const take = Math.min(this.#remaining, chunk.length - i);
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#framing = this.#framing === "body" ? "request-line" : "chunk-end";
          break;
        }
        default: {
          // Line-based states: head, chunk-size, chunk-end, trailers. The line up to its LF in one slice.
          const lf = chunk.indexOf(LF, i);
          this.#line += chunk.toString("latin1", i, lf === -1 ? chunk.length : lf);
          i = lf === -1 ? chunk.length : lf + 1;
          if (this.#line.length > (this.#framing === "head" ? MAX_HEAD : MAX_CHUNK_LINE)) {
            this.#framing = "opaque";
            break;
          }
          if (lf === -1) break;
          const line = this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line;
          this.#line = "";
          this.#endOfLine(line);
        }
      }
    }
    if (this.#framing === "request-line" && this.#requestLineLength > 0) {
      // Mid-way through a possible LIST line: hold the rest until the line ends.
      this.#held.push(Buffer.from(chunk.subarray(emitFrom)));
      emitFrom = chunk.length;
    }
    out.push(chunk.subarray(emitFrom));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** At the end of the stream: the held start of a request line that never ended, unchanged. */
  flush(): Buffer {
    return Buffer.concat(this.#releaseHeld());
  }

  #releaseHeld(): Buffer[] {
    const held = this.#held;
    this.#held = [];
    this.#requestLineLength = 0;
    return held;
  }

  #startHead(requestLineSeen: boolean): void {
    this.#framing = "head";
    this.#requestLineSeen = requestLineSeen;
    this.#headLength = 0;
    this.#contentLengths = [];
    this.#transferEncodings = [];
    this.#upgrade = false;
  }

  #endOfLine(line: string): void {
    switch (this.#framing) {
      case "head":
        this.#headLength += line.length;
        if (this.#headLength > MAX_HEAD) this.#framing = "opaque";
        else if (!this.#requestLineSeen) this.#requestLineSeen = true;
        else if (line === "") this.#framing = this.#bodyFraming();
        else this.#header(line);
        return;
      case "chunk-size": {
        const size = line.split(";", 1)[0]!.trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(size)) {
          this.#framing = "opaque";
        } else {
          this.#remaining = parseInt(size, 16);
          this.#framing = this.#remaining === 0 ? "trailers" : "chunk-data";
        }
        return;
      }
      case "chunk-end":
        this.#framing = line === "" ? "chunk-size" : "opaque";
        return;
      case "trailers":
        if (line === "") this.#framing = "request-line";
        return;
    }
  }

  #header(line: string): void {
    const colon = line.indexOf(":");
    if (colon <= 0) return;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") this.#contentLengths.push(value);
    else if (name === "transfer-encoding") this.#transferEncodings.push(value);
    else if (name === "upgrade") this.#upgrade = true;
  }

  /** What follows the head just ended, the way RFC 9112 §6.3 frames a request. */
  #bodyFraming(): Framing {
    if (this.#upgrade) return "opaque";
    if (this.#transferEncodings.length > 0) {
      if (this.#contentLengths.length > 0) return "opaque";
      const codings = this.#transferEncodings.join(",").split(",");
      return codings[codings.length - 1]!.trim().toLowerCase() === "chunked" ? "chunk-size" : "opaque";
    }
    if (this.#contentLengths.length === 0) return "request-line";
    const [length] = this.#contentLengths;
    if (!/^\d{1,15}$/.test(length!) || this.#contentLengths.some((other) => other !== length)) return "opaque";
    this.#remaining = Number(length);
    return this.#remaining === 0 ? "request-line" : "body";
  }
}

/** `LIST /p?q HTTP/1.1` (a whole line) as `GET /p?q&list=true HTTP/1.1`; any other line unchanged. */
export function rewriteListRequestLine(line: Buffer): Buffer {
  const match = LIST_REQUEST_LINE.exec(line.toString("latin1"));
  if (!match) return line;
  const [, target, version] = match;
  return Buffer.from(`GET ${target}${target!.includes("?") ? "&" : "?"}list=true ${version}\r\n`, "latin1");
}
