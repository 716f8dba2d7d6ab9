import { Agent, type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from "node:http";

/**
 * An HTTP proxy in front of a storage stand-in (S3, DynamoDB Local) that counts requests by kind
 * and holds each one `latencyMs` before forwarding it, as a real in-region round trip would.
 * `GET /__proxy/stats` answers the counts as JSON (for a proxy in another process); S3 bucket
 * names cannot contain "_", so that path never reaches a store.
 */
export interface CountingProxy {
  endpoint: string;
  /** Requests so far by kind: "GET", "PUT", "DELETE", "LIST" (S3) or the DynamoDB operation. */
  counts(): Record<string, number>;
  total(): number;
  setLatency(ms: number): void;
  close(): Promise<void>;
}

export const STATS_PATH = "/__proxy/stats";

/** What a storage request does: DynamoDB names its operation in a header; an S3 list is a GET on the bucket. */
function kindOf(request: IncomingMessage): string {
  const target = request.headers["x-amz-target"];
  if (typeof target === "string") return target.split(".").pop()!;
  if (request.method === "GET" && request.url?.includes("list-type=2")) return "LIST";
  return request.method ?? "?";
}

export async function startCountingProxy(target: string, options: { latencyMs?: number } = {}): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const counts: Record<string, number> = {};
  let latencyMs = options.latencyMs ?? 0;

  const forward = (request: IncomingMessage, response: ServerResponse) => {
    const outgoing = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    outgoing.on("error", () => response.destroy());
    request.pipe(outgoing);
  };

  const server = createServer((request, response) => {
    if (request.url === STATS_PATH) {
      return void response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(counts));
    }
    const kind = kindOf(request);
    counts[kind] = (counts[kind] ?? 0) + 1;
    // Hold the request (paused) for the round trip's latency, then stream it on.
    request.pause();
    if (latencyMs > 0) setTimeout(() => forward(request, response), latencyMs);
    else forward(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((sum, count) => sum + count, 0),
    setLatency: (ms) => (latencyMs = ms),
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
