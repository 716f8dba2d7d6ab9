/**
 * The Node listener hands the core a body reader over Node's own request stream (RequestEnv.readBody)
 * instead of a web `Request` body: the same bytes, the same limits and the same 413s.
 */
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiListener, type RunningListener } from "../../adapters/node/server/http-listener.js";
import { readBody } from "../../src/http/request-body.js";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

const TOO_LARGE = { errors: ["http: request body too large"] };
const LIMIT = 4096;

/** Sends `chunks` with chunked framing (no Content-Length), so only the bytes read tell the body's size. */
function sendChunked(url: string, token: string, chunks: string[]): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "PUT", headers: { "x-vault-token": token, "content-type": "application/json" } }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    // The server may answer and close before every chunk is written.
    request.on("error", (error) => (request.writableEnded ? undefined : reject(error)));
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

describe("request bodies read from Node's stream", () => {
  let h: InProcessServer;
  let listener: RunningListener;
  let base: string;
  const call = async (method: string, path: string, body?: string) => {
    const response = await fetch(`${base}/v1/${path}`, { method, headers: { "x-vault-token": h.root }, body });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    h = await unsealedServer();
    expect((await h.call("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, h.root)).status).toBe(204);
    listener = await startApiListener(
      { type: "tcp", address: "127.0.0.1:0", clusterAddress: "127.0.0.1:0", tlsDisable: true, maxRequestSize: LIMIT },
      h.app.fetch,
    );
    base = `http://${listener.address}`;
  });
  afterAll(async () => {
    await listener?.close();
  });

  it("a body sent in several chunks arrives whole, multi-byte characters split across chunks included", async () => {
    const value = `grüße ${"€".repeat(300)}`;
    const json = JSON.stringify({ data: { value } });
    const bytes = Buffer.from(json);
    // Cut inside a multi-byte character: the reader joins bytes, not text.
    const cut = bytes.indexOf(Buffer.from("€")) + 1;
    const chunks = [bytes.subarray(0, cut).toString("latin1"), bytes.subarray(cut).toString("latin1")];
    const written = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${base}/v1/secret/data/chunked`, { method: "PUT", headers: { "x-vault-token": h.root } }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      request.on("error", reject);
      for (const chunk of chunks) request.write(Buffer.from(chunk, "latin1"));
      request.end();
    });
    expect(written).toBe(200);
    expect((await call("GET", "secret/data/chunked")).body.data.data).toEqual({ value });
  });

  it("an empty body is `{}`", async () => {
    expect(await call("POST", "secret/data/empty", "")).toEqual({ status: 400, body: { errors: ["no data provided"] } });
  });

  it("refuses a body past the limit with 413, by Content-Length or by the bytes read, and accepts one at the limit", async () => {
    const at = JSON.stringify({ data: { value: "x".repeat(LIMIT - 21) } });
    expect(Buffer.byteLength(at)).toBe(LIMIT);
    expect((await call("PUT", "secret/data/limit", at)).status).toBe(200);
    expect(await call("PUT", "secret/data/limit", `${at} `)).toEqual({ status: 413, body: TOO_LARGE });
    // Chunked: the reader stops at the limit, mid-chunk; the next request on a new connection is served.
    expect(await sendChunked(`${base}/v1/secret/data/limit`, h.root, [at.slice(0, 1000), at.slice(1000), " ".repeat(64 * 1024)])).toEqual({
      status: 413,
      body: TOO_LARGE,
    });
    expect(await sendChunked(`${base}/v1/secret/data/limit`, h.root, [at.slice(0, 1000), at.slice(1000)])).toMatchObject({ status: 200 });
  });

  it("a client that leaves mid-body costs the node nothing lasting: later requests are served", async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(listener.port, "127.0.0.1", () => {
        socket.write(`PUT /v1/secret/data/gone HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${h.root}\r\nContent-Length: 1000\r\n\r\n{"data":`);
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    expect((await call("GET", "secret/data/gone")).status).toBe(404);
    expect((await call("PUT", "secret/data/after", JSON.stringify({ data: { ok: true } }))).status).toBe(200);
  });
});

describe("the listener's env", () => {
  it("carries a reader of the body's bytes under the limit the core asks for", async () => {
    const seen: { bytes?: string; refused?: number }[] = [];
    const listener = await startApiListener(
      { type: "tcp", address: "127.0.0.1:0", clusterAddress: "127.0.0.1:0", tlsDisable: true, maxRequestSize: LIMIT },
      async (request, env) => {
        const bytes = await env.readBody!(request.headers.get("x-limit") ? Number(request.headers.get("x-limit")) : LIMIT).catch((error) => error);
        seen.push(bytes instanceof Uint8Array ? { bytes: new TextDecoder().decode(bytes) } : { refused: bytes.status });
        return new Response(null, { status: 204 });
      },
    );
    try {
      const post = (body: string, headers: Record<string, string> = {}) => fetch(`http://${listener.address}/v1/x`, { method: "POST", body, headers });
      expect((await post('{"a":"ü"}')).status).toBe(204);
      expect((await post("0123456789", { "x-limit": "9" })).status).toBe(204);
      expect(seen).toEqual([{ bytes: '{"a":"ü"}' }, { refused: 413 }]);
    } finally {
      await listener.close();
    }
  });
});

describe("readBody", () => {
  it("takes the runtime's reader, under the path's limit, without touching the Request's body", async () => {
    const poisoned = new ReadableStream({
      pull: () => {
        throw new Error("the body stream was read");
      },
    });
    const request = new Request("http://x/v1/secret/data/a", { method: "PUT", body: poisoned, duplex: "half" } as RequestInit);
    const limits: number[] = [];
    const bytes = await readBody(request, 123, async (limit) => {
      limits.push(limit);
      return new Uint8Array([0x7b, 0x7d]);
    });
    expect([...bytes]).toEqual([0x7b, 0x7d]);
    expect(limits).toEqual([123]);
  });

  it("refuses a declared Content-Length past the limit before calling the reader", async () => {
    const request = new Request("http://x/v1/secret/data/a", { method: "PUT", headers: { "content-length": "200" }, body: "x".repeat(200) });
    let called = false;
    await expect(
      readBody(request, 100, async () => {
        called = true;
        return new Uint8Array();
      }),
    ).rejects.toMatchObject({ status: 413 });
    expect(called).toBe(false);
  });
});
