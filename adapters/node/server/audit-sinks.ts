import { createSocket } from "node:dgram";
import { chmod, mkdir, open, stat, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { connect, type Socket } from "node:net";
import type { FileSinkOptions, SocketSinkOptions } from "../../../src/audit/options.js";
import type { AuditSink, AuditSinkOpeners } from "../../../src/audit/sink.js";

/** The audit sinks of the container process: a file (or stdout, or "discard" as Vault's), and a TCP/UDP socket. */
export const nodeAuditSinks: AuditSinkOpeners = {
  file: (options) => (options.filePath === "stdout" ? new StdoutSink() : options.filePath === "discard" ? new DiscardSink() : new FileSink(options)),
  socket: (options) => new SocketSink(options),
};

/** Lines one after another, so entries never interleave and a reopen waits for writes under way. */
class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(step, step);
    this.#tail = next.catch(() => {});
    return next;
  }
}

class StdoutSink implements AuditSink {
  write(line: string): Promise<void> {
    return new Promise((resolve, reject) => process.stdout.write(`${line}\n`, (error) => (error ? reject(error) : resolve())));
  }
  async reopen(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Takes every entry and keeps none: Vault's `file_path = "discard"`, for testing a device's effect. */
class DiscardSink implements AuditSink {
  async write(): Promise<void> {}
  async reopen(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Appends to `file_path`; opened on first write, reopened on SIGHUP (log rotation), created with `mode`. */
class FileSink implements AuditSink {
  readonly #options: FileSinkOptions;
  readonly #queue = new SerialQueue();
  #handle: FileHandle | null = null;

  constructor(options: FileSinkOptions) {
    this.#options = options;
  }

  write(line: string): Promise<void> {
    return this.#queue.run(async () => {
      this.#handle ??= await this.#open();
      await this.#handle.write(`${line}\n`);
    });
  }

  reopen(): Promise<void> {
    return this.#queue.run(async () => {
      await this.#closeHandle();
      this.#handle = await this.#open();
    });
  }

  close(): Promise<void> {
    return this.#queue.run(() => this.#closeHandle());
  }

  async #open(): Promise<FileHandle> {
    const { filePath, mode } = this.#options;
    await mkdir(dirname(filePath), { recursive: true, mode: 0o700 });
    // Not a device, FIFO or directory (chmod'ing /dev/null would break the host; opening a FIFO would block).
    const existing = await stat(filePath).catch(() => null);
    if (existing && !existing.isFile()) throw new Error(`${filePath} exists and is not a regular file`);
    const handle = await open(filePath, "a", mode || 0o600);
    // As Vault: an existing file gets the configured mode too; mode 0000 leaves it alone.
    if (mode)
      await chmod(filePath, mode).catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
    return handle;
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }
}

/** Sends each line to `address` over TCP (one connection, re-established after a failure) or UDP. */
class SocketSink implements AuditSink {
  readonly #options: SocketSinkOptions;
  readonly #queue = new SerialQueue();
  #socket: Socket | null = null;

  constructor(options: SocketSinkOptions) {
    this.#options = options;
  }

  write(line: string): Promise<void> {
    return this.#queue.run(() => (this.#options.socketType === "udp" ? this.#sendUdp(line) : this.#writeTcp(line)));
  }

  reopen(): Promise<void> {
    return this.#queue.run(async () => {
      this.#socket?.destroy();
      this.#socket = null;
      if (this.#options.socketType === "tcp") this.#socket = await this.#connect();
    });
  }

  close(): Promise<void> {
    return this.#queue.run(async () => {
      this.#socket?.destroy();
      this.#socket = null;
    });
  }

  async #writeTcp(line: string): Promise<void> {
    const socket = (this.#socket ??= await this.#connect());
    try {
      await this.#withTimeout((done) => socket.write(`${line}\n`, done));
    } catch (error) {
      socket.destroy();
      if (this.#socket === socket) this.#socket = null;
      throw error;
    }
  }

  #connect(): Promise<Socket> {
    const { host, port } = hostPort(this.#options.address);
    const socket = connect({ host, port });
    const connected = this.#withTimeout<Socket>((done) => {
      socket.once("connect", () => {
        socket.off("error", done);
        // A peer that goes away is noticed at once: the next line reconnects rather than writing into the void.
        socket.on("error", () => socket.destroy());
        socket.once("close", () => {
          if (this.#socket === socket) this.#socket = null;
        });
        socket.on("data", () => {});
        done(null, socket);
      });
      socket.once("error", done);
    });
    // Not connected in time (or refused): nothing may linger half-open.
    return connected.catch((error: unknown) => {
      socket.destroy();
      throw error;
    });
  }

  #sendUdp(line: string): Promise<void> {
    const { host, port } = hostPort(this.#options.address);
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    return this.#withTimeout<void>((done) => socket.send(`${line}\n`, port, host, (error) => done(error))).finally(() => socket.close());
  }

  #withTimeout<T>(start: (done: (error?: Error | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`audit socket write timed out after ${this.#options.writeTimeoutMs} ms`)), this.#options.writeTimeoutMs);
      start((error, value) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(value as T);
      });
    });
  }
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(address.slice(at + 1)) };
}
