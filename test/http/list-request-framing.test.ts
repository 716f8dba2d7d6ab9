import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiListener, type RunningListener } from "../../adapters/node/server/http-listener.js";
import { ListMethodSocket, ListRequestRewriter } from "../../adapters/node/server/list-method.js";

/** Every way of cutting `bytes` into two chunks, run through one rewriter each. */
function rewrittenAtEverySplit(bytes: string): string[] {
  const input = Buffer.from(bytes, "latin1");
  const outputs = new Set<string>();
  for (let cut = 0; cut <= input.length; cut++) {
    const rewriter = new ListRequestRewriter();
    const out = Buffer.concat([rewriter.rewrite(input.subarray(0, cut)), rewriter.rewrite(input.subarray(cut)), rewriter.flush()]);
    outputs.add(out.toString("latin1"));
  }
  return [...outputs];
}

const FAKE_LIST_LINE = "LIST /v1/secret/smuggled HTTP/1.1\r\n";

describe("ListRequestRewriter", () => {
  it("rewrites LIST request lines, pipelined, wherever the chunks are cut", () => {
    const twoLists = "LIST /v1/a HTTP/1.1\r\nHost: x\r\n\r\nLIST /v1/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    expect(rewrittenAtEverySplit(twoLists)).toEqual(["GET /v1/a?list=true HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/b?x=1&list=true HTTP/1.1\r\nHost: x\r\n\r\n"]);
  });

  it("leaves request-line look-alikes in Content-Length and chunked bodies alone", () => {
    const lengthBody = `POST /v1/a HTTP/1.1\r\nContent-Length: ${FAKE_LIST_LINE.length}\r\n\r\n${FAKE_LIST_LINE}LIST /v1/b HTTP/1.1\r\n\r\n`;
    expect(rewrittenAtEverySplit(lengthBody)).toEqual([lengthBody.replace("LIST /v1/b ", "GET /v1/b?list=true ")]);
    const chunk = FAKE_LIST_LINE.length.toString(16);
    const chunked = `POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}\r\n${FAKE_LIST_LINE}\r\n0\r\nX-Trailer: 1\r\n\r\nLIST /v1/b HTTP/1.1\r\n\r\n`;
    expect(rewrittenAtEverySplit(chunked)).toEqual([chunked.replace("LIST /v1/b ", "GET /v1/b?list=true ")]);
  });

  it("stops rewriting on framing the parser refuses, rather than guess", () => {
    const ambiguous = `POST /v1/a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${FAKE_LIST_LINE}\r\n`;
    expect(rewrittenAtEverySplit(ambiguous)).toEqual([ambiguous]);
  });

  it("stops following a chunked body whose chunk-size line is longer than any parser takes", () => {
    const longSizeLine = `POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;${"x".repeat(5000)}\r\na\r\n0\r\n\r\n${FAKE_LIST_LINE}`;
    expect(rewrittenAtEverySplit(longSizeLine)).toEqual([longSizeLine]);
    const shortSizeLine = longSizeLine.replace("x".repeat(5000), "x".repeat(100));
    expect(rewrittenAtEverySplit(shortSizeLine)).toEqual([shortSizeLine.replace("LIST /v1/secret/smuggled ", "GET /v1/secret/smuggled?list=true ")]);
  });
});

describe("LIST over a real listener", () => {
  let listener: RunningListener;
  const seen: { method: string; url: string; body: string }[] = [];
  let onRequest = () => {};

  beforeAll(async () => {
    listener = await startApiListener(
      { type: "tcp", address: "127.0.0.1:0", clusterAddress: "127.0.0.1:0", tlsDisable: true, maxRequestSize: 1024 * 1024 },
      async (request) => {
        const url = new URL(request.url);
        // Recorded before the body is read, so the order is the order requests arrived in.
        const entry = { method: request.method, url: url.pathname + url.search, body: "" };
        seen.push(entry);
        onRequest();
        if (request.method !== "GET" && request.method !== "HEAD") entry.body = await request.text();
        return new Response("ok", { status: 200 });
      },
    );
  });

  afterAll(() => listener?.close());

  /**
   * Sends raw bytes and reads until the server closes the connection. With `rest`, that is sent
   * only once the handler has the request, so it reaches the server as a chunk of its own (the
   * old rewriter looked only at the start of each chunk).
   */
  async function exchange(bytes: string, rest?: string): Promise<string> {
    const socket = connect(listener.port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    const closed = new Promise<void>((resolve, reject) => {
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    const arrived = new Promise<void>((resolve) => (onRequest = resolve));
    socket.write(bytes);
    if (rest !== undefined) {
      await arrived;
      socket.write(rest);
    }
    await closed;
    return Buffer.concat(chunks).toString("latin1");
  }

  const statusLines = (responses: string) => responses.match(/HTTP\/1\.1 \d+/g) ?? [];

  it("answers a POST whose body is a LIST request line once, with the body unchanged", async () => {
    seen.length = 0;
    const responses = await exchange(
      `POST /v1/secret/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${FAKE_LIST_LINE.length}\r\n\r\n`,
      FAKE_LIST_LINE,
    );
    expect(statusLines(responses)).toEqual(["HTTP/1.1 200"]);
    expect(seen).toEqual([{ method: "POST", url: "/v1/secret/a", body: FAKE_LIST_LINE }]);
  });

  it("does the same for a chunked body", async () => {
    seen.length = 0;
    const size = FAKE_LIST_LINE.length.toString(16);
    const responses = await exchange(
      `POST /v1/secret/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n`,
      `${FAKE_LIST_LINE}\r\n0\r\n\r\n`,
    );
    expect(statusLines(responses)).toEqual(["HTTP/1.1 200"]);
    expect(seen).toEqual([{ method: "POST", url: "/v1/secret/a", body: FAKE_LIST_LINE }]);
  });

  it("still serves pipelined LIST requests after a body", async () => {
    seen.length = 0;
    const responses = await exchange(
      `POST /v1/secret/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}` +
        `LIST /v1/secret/ HTTP/1.1\r\nHost: x\r\n\r\n` +
        `LIST /v1/secret/b?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(statusLines(responses)).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 200"]);
    expect(seen.map(({ method, url }) => `${method} ${url}`)).toEqual(["POST /v1/secret/a", "GET /v1/secret/?list=true", "GET /v1/secret/b?x=1&list=true"]);
  });
});

describe("ListMethodSocket writes", () => {
  it("passes data on in order and answers an empty write without a write to the socket", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
    const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
    const received: Buffer[] = [];
    client.on("data", (chunk) => received.push(chunk));
    const serverSide = await accepted;
    const socketWrites: number[] = [];
    const write = serverSide.write.bind(serverSide) as (chunk: Buffer, callback: () => void) => boolean;
    serverSide.write = ((chunk: Buffer, callback: () => void) => (socketWrites.push(chunk.length), write(chunk, callback))) as typeof serverSide.write;
    const wrapped = new ListMethodSocket(serverSide);
    const written = (chunk: Buffer) => new Promise<void>((resolve, reject) => wrapped.write(chunk, (error) => (error ? reject(error) : resolve())));
    await written(Buffer.from("head,"));
    await written(Buffer.alloc(0));
    await written(Buffer.from("body"));
    wrapped.end();
    await new Promise((resolve) => client.once("end", resolve));
    expect(Buffer.concat(received).toString()).toBe("head,body");
    expect(socketWrites).toEqual([5, 4]);
    client.destroy();
    server.close();
  });
});
