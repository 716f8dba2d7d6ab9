import { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { BodyTooLarge } from "../../../src/http/request-body.js";

const EMPTY = new Uint8Array(0);

/**
 * The adapter's `RequestEnv.readBody`: a request's body bytes read straight from Node's stream, the
 * way the core's `readBody` reads a web `Request` (413 as soon as the bytes received pass `limit`).
 * Reading the web `Request`'s body instead makes @hono/node-server build an undici `Request`, an
 * AbortSignal and a ReadableStream around the stream, which cost more CPU than all the rest of a
 * small write's handling. Past the limit the stream is paused and left unread: the listener drains
 * or closes the connection after the 413, as it does for any body left unread.
 */
export function incomingBodyReader(incoming: Readable & { method?: string; aborted?: boolean }): (limit: number) => Promise<Uint8Array> {
  return (limit) =>
    new Promise((resolve, reject) => {
      // As the web `Request` the listener would build: a GET or HEAD carries no body.
      if (incoming.method === "GET" || incoming.method === "HEAD") return resolve(EMPTY);
      // Checked before `readableEnded`: an HTTP/2 stream the client reset half-way reads as ended.
      if (incoming.destroyed || incoming.aborted) return reject(new Error("the request's connection closed before its body was read"));
      if (incoming.readableEnded) return resolve(EMPTY);
      // The whole body came with the request (most writes): take it from the stream's buffer now,
      // rather than switching the stream to flowing and waiting for its data and end events. Only
      // HTTP/1's `complete` means that: an HTTP/2 request (the cluster listener's) is also
      // "complete" when its stream was reset half-way.
      if (incoming instanceof IncomingMessage && incoming.complete && incoming.readableLength <= limit) {
        const buffered = incoming.read() as Buffer | null;
        return resolve(buffered ? new Uint8Array(buffered.buffer, buffered.byteOffset, buffered.length) : EMPTY);
      }
      const chunks: Buffer[] = [];
      let length = 0;
      const settle = () => {
        incoming.off("data", onData);
        incoming.off("end", onEnd);
        incoming.off("error", onError);
        incoming.off("close", onClose);
      };
      const onData = (chunk: Buffer) => {
        length += chunk.length;
        if (length > limit) {
          settle();
          incoming.pause();
          reject(new BodyTooLarge());
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = () => {
        settle();
        const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
        // A plain view, not a Buffer: the core's Uint8Array methods (slice copies) behave as it expects.
        resolve(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
      };
      const onError = (error: Error) => {
        settle();
        reject(error);
      };
      const onClose = () => {
        settle();
        reject(new Error("the client closed the connection before sending the whole body"));
      };
      incoming.on("data", onData);
      incoming.on("end", onEnd);
      incoming.on("error", onError);
      incoming.on("close", onClose);
    });
}
