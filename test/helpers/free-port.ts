import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** A loopback port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The first port the kernel may hand out to outgoing connections (Linux's default: 32768). */
function ephemeralPortsStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A free port below the ephemeral range, for a listener that is bound only part of the time (a
 * node's cluster listener, open while it is active). A port in the ephemeral range (the API port
 * + 1 default) can be taken by an outgoing connection between terms: the node then serves as
 * active without a cluster listener, and standbys cannot forward to it.
 */
export async function freeFixedPort(): Promise<number> {
  const below = ephemeralPortsStart();
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (below - 10_000));
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
