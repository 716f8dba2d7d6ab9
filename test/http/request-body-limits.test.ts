/**
 * Request bodies: small limits where no token is needed, the token checked before a body is
 * parsed, parsing bounded in values and spread over the event loop (issue #35).
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiListener, type RunningListener } from "../../adapters/node/server/http-listener.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

const ROOT = "body-limits-root";
const MiB = 1024 * 1024;
const encode = (text: string) => new TextEncoder().encode(text);
const TOO_LARGE = { errors: ["http: request body too large"] };

/** A JSON object of about `bytes` bytes made of empty objects (the shape slowest to parse), encoded up front. */
function emptyObjects(bytes: number): Uint8Array<ArrayBuffer> {
  return encode(`{"key":[${"{},".repeat(Math.floor(bytes / 3))}{}]}`);
}

/** Sends `body` in 64 KiB chunks with chunked framing (no Content-Length), so only the bytes read tell its size. */
function sendChunked(url: string, method: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers: { ...headers, "content-type": "application/json" } }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, text }));
    });
    // The server may answer and close before every byte is written.
    request.on("error", (error) => (request.writableEnded ? undefined : reject(error)));
    let offset = 0;
    const writeMore = () => {
      while (offset < body.length) {
        const chunk = body.subarray(offset, (offset += 64 * 1024));
        if (!request.write(chunk)) return void request.once("drain", writeMore);
      }
      request.end();
    };
    writeMore();
  });
}

/** Polls `sys/health` until `done` settles; resolves with the slowest answer's time in ms. */
async function slowestHealth(apiAddr: string, done: Promise<unknown>): Promise<number> {
  let finished = false;
  void done.finally(() => (finished = true));
  let slowest = 0;
  while (!finished) {
    const started = performance.now();
    const response = await fetch(`${apiAddr}/v1/sys/health`);
    expect(response.status).toBe(200);
    await response.text();
    slowest = Math.max(slowest, performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return slowest;
}

describe("request bodies on a dev server", () => {
  let server: ServerProcess;
  let dir: string;
  const call = async (method: string, path: string, body?: string | Uint8Array<ArrayBuffer>, token = ROOT) => {
    const response = await fetch(`${server.apiAddr}/v1/${path}`, { method, headers: token ? { "x-vault-token": token } : {}, body });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-body-"));
    server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${ROOT}`]);
    // So auth/userpass/login/… is a login path (no token needed); unmounted, it is refused for the missing token unread.
    expect((await call("POST", "sys/auth/userpass", JSON.stringify({ type: "userpass" }))).status).toBe(204);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a 20 MiB unauthenticated body with 413, by Content-Length or by the bytes read, while health answers within 1 s", async () => {
    const body = emptyObjects(20 * MiB);
    for (const path of ["sys/unseal", "auth/userpass/login/alice", "sys/rekey/update"]) {
      const declared = call("PUT", path, body, "");
      expect(await slowestHealth(server.apiAddr, declared)).toBeLessThan(1000);
      expect(await declared).toEqual({ status: 413, body: TOO_LARGE });
      const streamed = sendChunked(`${server.apiAddr}/v1/${path}`, "PUT", body);
      expect(await slowestHealth(server.apiAddr, streamed)).toBeLessThan(1000);
      const { status, text } = await streamed;
      expect({ status, body: JSON.parse(text) }).toEqual({ status: 413, body: TOO_LARGE });
    }
  });

  it("answers 403 to a request without a valid token whatever its body: invalid JSON is never parsed", async () => {
    const notJson = `{not json${"x".repeat(MiB)}`;
    expect(await call("PUT", "secret/data/app", notJson, "")).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await call("PUT", "secret/data/app", notJson, "not-a-token")).status).toBe(403);
    // The same body with a live token is parsed, and refused as JSON.
    expect((await call("PUT", "secret/data/app", notJson)).status).toBe(400);
    // Login and unauthenticated paths still parse their (small) bodies.
    expect((await call("PUT", "sys/unseal", "{not json", "")).status).toBe(400);
  });

  it("a refused request's huge body is neither parsed nor hashed into the audit log; the node stays up", async () => {
    const file = join(dir, "audit.log");
    expect((await call("PUT", "sys/audit/file", JSON.stringify({ type: "file", options: { file_path: file } }))).status).toBe(204);
    const manyStrings = encode(`{"data":[${'"x",'.repeat(5 * MiB)}"x"]}`);
    const refused = call("PUT", "secret/data/app", manyStrings, "not-a-token");
    expect(await slowestHealth(server.apiAddr, refused)).toBeLessThan(1000);
    expect((await refused).status).toBe(403);
    const entries = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const audited = entries.filter((entry) => entry.request?.path === "secret/data/app");
    expect(audited.at(-1)).toMatchObject({ type: "request", error: expect.stringContaining("permission denied"), request: { data: null } });
    expect((await call("GET", "sys/health", undefined, "")).status).toBe(200);
    expect((await call("DELETE", "sys/audit/file")).status).toBe(204);
  });

  it("refuses a body of more values than it parses with 400, without stalling the node", async () => {
    const refused = call("PUT", "secret/data/app", emptyObjects(30 * MiB));
    expect(await slowestHealth(server.apiAddr, refused)).toBeLessThan(1000);
    expect(await refused).toEqual({ status: 400, body: { errors: [expect.stringMatching(/^failed to parse JSON input: more than 100000 values/)] } });
  });
});

describe("request bodies on an in-process listener", () => {
  let h: Awaited<ReturnType<typeof unsealedServer>>;
  let listeners: RunningListener[] = [];
  const listen = async (maxRequestSize: number) => {
    const listener = await startApiListener(
      { type: "tcp", address: "127.0.0.1:0", clusterAddress: "127.0.0.1:0", tlsDisable: true, maxRequestSize },
      h.app.fetch,
    );
    listeners.push(listener);
    return `http://${listener.address}`;
  };
  const put = async (base: string, path: string, body: string | Uint8Array<ArrayBuffer>) => {
    const response = await fetch(`${base}/v1/${path}`, { method: "PUT", headers: { "x-vault-token": h.root }, body });
    return { status: response.status, text: await response.text() };
  };

  beforeAll(async () => {
    h = await unsealedServer({ maxRequestSize: 64 * MiB });
    expect((await h.call("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, h.root)).status).toBe(204);
  });
  afterAll(async () => {
    await Promise.all(listeners.map((listener) => listener.close()));
    listeners = [];
  });

  it("applies each listener's max_request_size", async () => {
    const small = await listen(1024);
    const large = await listen(4 * MiB);
    const secret = JSON.stringify({ data: { value: "x".repeat(2048) } });
    const refused = await put(small, "secret/data/app", secret);
    expect({ status: refused.status, body: JSON.parse(refused.text) }).toEqual({ status: 413, body: TOO_LARGE });
    expect((await put(large, "secret/data/app", secret)).status).toBe(200);
    // sys/ bodies stay small whatever the listener allows.
    expect((await put(large, "sys/policies/acl/big", JSON.stringify({ policy: "#".repeat(2 * MiB) }))).status).toBe(413);
  });

  it("reads and parses a max-size body without holding the event loop long (longest stall printed)", async () => {
    const base = await listen(32 * MiB);
    // No mount serves the path: the body is read and parsed, then the request is refused (nothing stored).
    const bodies = {
      "one string": encode(JSON.stringify({ value: "x".repeat(32 * MiB - 64) })),
      "empty objects": emptyObjects(32 * MiB - 64),
      "100000 numbers": encode(JSON.stringify({ value: Array.from({ length: 99_990 }, (_, i) => i), pad: "x".repeat(32 * MiB - 1024 * 1024) })),
    };
    const stalls: string[] = [];
    for (const [shape, body] of Object.entries(bodies)) {
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      expect((await put(base, "nomount/app", body)).status).toBe(shape === "empty objects" ? 400 : 404);
      delay.disable();
      stalls.push(`${shape} ${(delay.max / 1e6).toFixed(0)} ms`);
    }
    console.log(`longest event-loop stall reading and parsing a 32 MiB body: ${stalls.join(", ")}`);
  });
});
