import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { readFile } from "node:fs/promises";
import { getRequestListener } from "@hono/node-server";
import { splitHostPort as parseHostPort } from "../../src/config/listener.js";
import { ConfigError, type ListenerConfig } from "../../src/config/types.js";
import { DRAIN_TIMEOUT_MS } from "../../src/ha/drain.js";
import type { RequestEnv } from "../../src/http/app.js";
import { ListMethodSocket } from "./list-method.js";

export interface RunningListener {
  /** host:port actually bound (differs from the config when it asked for port 0). */
  address: string;
  port: number;
  /**
   * From now on every response says `Connection: close`, so kept-alive clients reconnect — through
   * the load balancer, to another node — after their next answer instead of staying on this one.
   */
  beginDraining(): void;
  /**
   * Stops accepting connections, closes the idle ones and lets those with a request inside finish
   * (each closes after its answer) for up to DRAIN_TIMEOUT_MS before cutting them off.
   */
  close(): Promise<void>;
}

type FetchHandler = (request: Request, env: RequestEnv) => Response | Promise<Response>;

/** Serves `fetch` on a listener "tcp" stanza: plain HTTP, or TLS ≥ 1.2 when it has a cert and key. */
export async function startApiListener(config: ListenerConfig, fetch: FetchHandler): Promise<RunningListener> {
  let draining = false;
  const http = createHttpServer(
    getRequestListener(async (request, env) => {
      const response = await fetch(request, {
        clientAddress: env.incoming.socket.remoteAddress,
        clientPort: env.incoming.socket.remotePort,
        unauthenticatedMetrics: config.unauthenticatedMetricsAccess === true,
      });
      // Decided when the answer is ready, not when the request came, so requests inside when the
      // drain began close their connection too. Node then sends `Connection: close` and closes it.
      if (draining) (env.outgoing as ServerResponse).shouldKeepAlive = false;
      return response;
    }),
  );
  const inject = (socket: Socket) => http.emit("connection", new ListMethodSocket(socket));
  // No Nagle, as Node's HTTP server sets when it accepts connections itself: a response written as
  // headers then body would otherwise wait ~40 ms for the client's delayed ACK.
  const server: NetServer = config.tlsDisable
    ? createNetServer({ noDelay: true }, inject)
    : createTlsServer({ ...(await readTlsFiles(config)), minVersion: "TLSv1.2", ALPNProtocols: ["http/1.1"], noDelay: true }, inject);
  const { host, port } = splitHostPort(config.address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new Error(`listener address ${config.address} is already in use`) : error),
    );
    server.listen(port, host, resolve);
  });
  // The HTTP server never listens itself (connections are injected), so start Node's connection
  // tracking — request/header timeouts and closeAllConnections — the way its own listen would.
  http.emit("listening");
  const bound = server.address();
  const boundPort = typeof bound === "object" && bound ? bound.port : port;
  return {
    address: joinHostPort(host, boundPort),
    port: boundPort,
    beginDraining: () => (draining = true),
    close: () => {
      draining = true;
      return closeServers(server, http);
    },
  };
}

async function readTlsFiles(config: ListenerConfig): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (file: string | undefined, key: string) => {
    try {
      return await readFile(file!);
    } catch (error) {
      throw new ConfigError(`listener "tcp" (${config.address}): cannot read ${key} ${JSON.stringify(file)}: ${(error as Error).message}`);
    }
  };
  return { cert: await read(config.tlsCertFile, "tls_cert_file"), key: await read(config.tlsKeyFile, "tls_key_file") };
}

/**
 * Only idle connections are closed at once: a busy one closes after its answer (we are draining),
 * so no client loses a request it already sent. Past the drain bound, what is left is cut off.
 */
function closeServers(server: NetServer, http: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    const cutOff = setTimeout(() => http.closeAllConnections(), DRAIN_TIMEOUT_MS);
    server.close(() => {
      clearTimeout(cutOff);
      resolve();
    });
    http.close(); // stops the connection-tracking timer; it reports "not running", which is expected
    http.closeIdleConnections();
  });
}

/** host:port of a validated listener address (the config parser has already checked it). */
export function splitHostPort(address: string): { host: string; port: number } {
  const parts = parseHostPort(address);
  if (!parts) throw new ConfigError(`invalid listener address ${JSON.stringify(address)} (expected host:port)`);
  return parts;
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
