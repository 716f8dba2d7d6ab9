import { request } from "node:http";

/** The listener's default `max_request_size`: the largest body a node accepts. */
export const MAX_REQUEST_SIZE = 32 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/**
 * A JSON object of exactly `size` bytes holding an array of empty objects: as costly to parse per
 * byte as JSON gets, and accepted by the body limit.
 */
export function floodBody(size: number): Buffer {
  const head = '{"flood":[';
  const tail = "{}]}";
  const count = Math.floor((size - head.length - tail.length) / 3);
  const padding = " ".repeat(size - head.length - tail.length - count * 3);
  return Buffer.from(`${head}${"{},".repeat(count)}${tail}${padding}`);
}

/**
 * An unauthenticated client that sends `body` to each of `apiAddrs` over and over, one request at a
 * time per node, streamed in chunks, until stopped. Says how many bodies each node took in.
 */
export function startBodyFlood(apiAddrs: string[], body: Buffer): { stop(): Promise<number[]> } {
  let stopping = false;
  const inFlight = new Set<ReturnType<typeof request>>();
  const sendOnce = (apiAddr: string) =>
    new Promise<void>((resolve) => {
      const url = new URL("/v1/secret/data/flood", apiAddr);
      const sent = request(url, { method: "PUT", agent: false, headers: { "content-type": "application/json", "content-length": body.length } }, (response) => {
        response.resume();
        response.on("end", resolve);
        response.on("error", () => resolve());
      });
      inFlight.add(sent);
      sent.on("error", () => resolve());
      sent.on("close", () => (inFlight.delete(sent), resolve()));
      const write = (offset: number) => {
        while (offset < body.length && !stopping) {
          const end = Math.min(body.length, offset + CHUNK);
          if (!sent.write(body.subarray(offset, end))) return void sent.once("drain", () => write(end));
          offset = end;
        }
        sent.end();
      };
      write(0);
    });
  const taken = apiAddrs.map(() => 0);
  const loops = apiAddrs.map(async (apiAddr, i) => {
    while (!stopping) {
      await sendOnce(apiAddr);
      taken[i]!++;
    }
  });
  return {
    async stop() {
      stopping = true;
      for (const sent of inFlight) sent.destroy();
      await Promise.all(loops);
      return taken;
    },
  };
}
