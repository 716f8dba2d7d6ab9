import { Duplex } from "node:stream";
import type { Socket } from "node:net";

/**
 * Vault clients send the non-standard `LIST` verb, which Node's HTTP parser rejects outright. Each
 * connection passes through this stream, which rewrites a request line `LIST /p?q HTTP/1.1` into
 * `GET /p?q&list=true HTTP/1.1` — the form Vault itself accepts as equivalent — before the parser
 * sees it. Vault clients do not pipeline, so a request line always starts a chunk.
 */
export class ListMethodSocket extends Duplex {
  readonly #socket: Socket;

  constructor(socket: Socket) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(rewriteListRequestLine(chunk))) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("close", () => this.destroy());
    socket.on("error", (error) => this.destroy(error));
    socket.on("timeout", () => this.emit("timeout"));
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  get remoteFamily(): string | undefined {
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

const LIST_REQUEST_LINE = /^LIST (\S+) (HTTP\/1\.[01])\r\n/;

export function rewriteListRequestLine(chunk: Buffer): Buffer {
  if (chunk.length < 5 || chunk[0] !== 0x4c /* L */) return chunk;
  const head = chunk.subarray(0, Math.min(chunk.length, 8192)).toString("latin1");
  const match = LIST_REQUEST_LINE.exec(head);
  if (!match) return chunk;
  const [line, target, version] = match;
  const rewritten = `GET ${target}${target!.includes("?") ? "&" : "?"}list=true ${version}\r\n`;
  return Buffer.concat([Buffer.from(rewritten, "latin1"), chunk.subarray(line.length)]);
}
