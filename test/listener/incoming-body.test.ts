/** The Node listeners' body reader, over real HTTP/1 and HTTP/2 connections. */
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { connect, constants, createServer as createH2cServer, type Http2ServerRequest } from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { incomingBodyReader } from "../../adapters/node/server/incoming-body.js";
import { BodyTooLarge } from "../../src/http/request-body.js";

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** An HTTP/1 server whose handler reads each request's body with `limit`, after `delayMs`, and answers its length or error. */
async function http1Server(limit: number, delayMs: number): Promise<string> {
  const server = createHttpServer((request: IncomingMessage, response) => {
    setTimeout(() => {
      incomingBodyReader(request)(limit).then(
        (bytes) => response.end(JSON.stringify({ length: bytes.length, first: bytes[0], last: bytes.at(-1) })),
        (error) => response.end(JSON.stringify({ error: error instanceof BodyTooLarge ? "too large" : String(error) })),
      );
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("the Node listeners' request body reader", () => {
  it("reads a body whole, whether it was all there when asked for or arrives afterwards, and refuses one past the limit", async () => {
    for (const delayMs of [0, 100]) {
      const base = await http1Server(2_000_000, delayMs);
      for (const size of [0, 10, 20_000, 1_000_000]) {
        const body = Buffer.alloc(size, 7);
        if (size > 0) body[size - 1] = 9;
        const answer = await (await fetch(base, { method: "POST", body })).json();
        expect(answer, `${size} bytes after ${delayMs} ms`).toEqual(size === 0 ? { length: 0 } : { length: size, first: 7, last: 9 });
      }
    }
    const small = await http1Server(1_000, 100);
    expect(await (await fetch(small, { method: "POST", body: Buffer.alloc(5_000) })).json()).toEqual({ error: "too large" });
  });

  it("refuses an HTTP/2 request whose stream the client reset before the body was read, instead of reading it as empty", async () => {
    const server = createH2cServer();
    const arrived = new Promise<Http2ServerRequest>((resolve) => server.once("request", resolve));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    closers.push(() => {
      client.close();
      server.close();
    });
    const stream = client.request({ ":method": "POST", ":path": "/v1/transit/keys/web", "content-length": "1000" });
    stream.write('{"type":');
    const request = await arrived;
    const closed = new Promise((resolve) => request.once("close", resolve));
    stream.close(constants.NGHTTP2_CANCEL);
    await closed;
    await expect(incomingBodyReader(request)(1_000_000)).rejects.toThrow("closed before its body was read");
  });
});
