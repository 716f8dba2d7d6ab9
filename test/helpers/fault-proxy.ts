import { type Socket, createServer, connect } from "node:net";

/**
 * What the proxy does to traffic, switchable at runtime:
 * - "pass": forward both ways;
 * - { delayMs }: forward each chunk `delayMs` late, in order;
 * - "blackhole": accept connections and swallow everything, answering nothing;
 * - "reset": reset every open connection and each new one (TCP RST).
 * Connections that swallowed data are reset when the mode changes again, so clients retry
 * on fresh ones rather than on a stream with a hole in it.
 */
export type FaultMode = "pass" | "blackhole" | "reset" | { delayMs: number };

export interface FaultProxy {
  /** e.g. "http://127.0.0.1:41236" */
  endpoint: string;
  setMode(mode: FaultMode): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  swallowed: boolean;
}

/** A TCP proxy on a free loopback port in front of `target` ("http://host:port"). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  let mode: FaultMode = "pass";
  const links = new Set<Link>();

  const server = createServer((client) => {
    if (mode === "reset") return void client.resetAndDestroy();
    const link: Link = { client, upstream: connect(Number(port), hostname), swallowed: false };
    links.add(link);
    const end = () => {
      links.delete(link);
      link.client.destroy();
      link.upstream.destroy();
    };
    for (const socket of [link.client, link.upstream]) socket.on("error", end).on("close", end);
    forward(link, link.client, link.upstream);
    forward(link, link.upstream, link.client);
  });

  function forward(link: Link, from: Socket, to: Socket): void {
    let lastDue = 0;
    from.on("data", (chunk: Buffer) => {
      if (mode === "blackhole" || link.swallowed) {
        link.swallowed = true;
        return;
      }
      const delayMs = typeof mode === "object" ? mode.delayMs : 0;
      const due = Math.max(performance.now() + delayMs, lastDue);
      lastDue = due;
      if (due <= performance.now()) to.write(chunk);
      else setTimeout(() => to.writable && to.write(chunk), due - performance.now());
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address() as { port: number };

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    setMode(next) {
      mode = next;
      for (const link of [...links]) {
        if (next === "reset" || (next !== "blackhole" && link.swallowed)) {
          links.delete(link);
          link.client.resetAndDestroy();
          link.upstream.destroy();
        }
      }
    },
    close() {
      for (const link of links) {
        link.client.destroy();
        link.upstream.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
