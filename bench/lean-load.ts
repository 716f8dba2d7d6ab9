/**
 * A closed-loop HTTP/1.1 GET load generator that costs the machine little: each connection sends one
 * pre-built request, reads the answer (Content-Length or chunked) and sends the next. autocannon
 * spends ~75–95 µs of CPU per request here, a third of a warm read's; when the servers under test
 * need both of this machine's cores (reads spread over three nodes), that share is taken from them,
 * which separate client hosts would not do. Same result shape as load.ts.
 */
import { connect, type Socket } from "node:net";
import type { LoadOptions, LoadResult } from "./load.js";
import { percentile, round } from "./stats.js";

const HEAD_END = Buffer.from("\r\n\r\n");

/** Runs every target at once for its duration; one result summed over them. */
export async function runLeanLoads(targets: LoadOptions[]): Promise<LoadResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const perTarget = await Promise.all(targets.map((target) => runTarget(target, latencies)));
  const seconds = Math.max(...targets.map((target) => target.durationSeconds), (performance.now() - started) / 1000);
  const ok = perTarget.reduce((sum, counts) => sum + counts.ok, 0);
  if (latencies.length === 0) throw new Error(`no 2xx answers from ${targets.map((t) => t.url).join(", ")}`);
  return {
    requestsPerSecond: round(ok / seconds, 0),
    p50: round(percentile(latencies, 50), 3),
    p99: round(percentile(latencies, 99), 3),
    mean: round(latencies.reduce((sum, value) => sum + value, 0) / latencies.length, 3),
    requests: ok,
    failures: perTarget.reduce((sum, counts) => sum + counts.failed, 0),
    perTarget: perTarget.map((counts) => counts.ok),
  };
}

async function runTarget(target: LoadOptions, latencies: number[]): Promise<{ ok: number; failed: number }> {
  const url = new URL(target.url);
  const headers = Object.entries({ host: url.host, ...target.headers }).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  const request = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\n${headers}\r\n`);
  const until = performance.now() + target.durationSeconds * 1000;
  const counts = { ok: 0, failed: 0 };
  await Promise.all(Array.from({ length: target.connections }, () => runConnection(url, request, until, latencies, counts)));
  return counts;
}

function runConnection(url: URL, request: Buffer, until: number, latencies: number[], counts: { ok: number; failed: number }): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    let pending: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    const send = () => {
      if (performance.now() >= until) {
        socket.end();
        return;
      }
      sentAt = performance.now();
      socket.write(request);
    };
    socket.on("connect", send);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const answer = completeAnswer(pending);
        if (!answer) return;
        pending = pending.subarray(answer.length);
        if (answer.status >= 200 && answer.status < 300) {
          counts.ok++;
          latencies.push(performance.now() - sentAt);
        } else {
          counts.failed++;
        }
        send();
      }
    });
    socket.on("error", () => {
      counts.failed++;
      resolve();
    });
    socket.on("close", () => resolve());
  });
}

/** The first whole answer in `bytes`: its status and length in bytes; null if not all there yet. */
function completeAnswer(bytes: Buffer): { status: number; length: number } | null {
  const headEnd = bytes.indexOf(HEAD_END);
  if (headEnd === -1) return null;
  const head = bytes.toString("latin1", 0, headEnd);
  const status = Number(head.slice(9, 12));
  const bodyStart = headEnd + HEAD_END.length;
  const contentLength = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (contentLength) {
    const length = bodyStart + Number(contentLength[1]);
    return bytes.length >= length ? { status, length } : null;
  }
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) throw new Error(`an answer with neither Content-Length nor chunked encoding: ${head.split("\r\n")[0]}`);
  // Chunked: sizes in hex, each chunk followed by CRLF, ending with a zero-size chunk and CRLF.
  let at = bodyStart;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd === -1) return null;
    const size = Number.parseInt(bytes.toString("latin1", at, lineEnd), 16);
    at = lineEnd + 2 + size + 2;
    if (at > bytes.length) return null;
    if (size === 0) return { status, length: at };
  }
}
