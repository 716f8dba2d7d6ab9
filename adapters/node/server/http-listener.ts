import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createSecureContext, createServer as createTlsServer, type DetailedPeerCertificate, type TlsOptions, TLSSocket } from "node:tls";
import { readFile } from "node:fs/promises";
import { getRequestListener } from "@hono/node-server";
import { joinHostPort, splitHostPort as parseHostPort } from "../../../src/config/listener.js";
import { ConfigError, type HttpTimeouts, type ListenerConfig, type ProxyProtocolConfig } from "../../../src/config/types.js";
import { DRAIN_TIMEOUT_MS } from "../../../src/ha/drain.js";
import type { RequestEnv } from "../../../src/http/app.js";
import { type ClientPeer, resolveForwardedFor } from "../../../src/http/forwarded-for.js";
import { errorResponse } from "../../../src/http/respond.js";
import { addressInBlocks } from "../../../src/sdk/cidr.js";
import { incomingBodyReader } from "./incoming-body.js";
import { ListMethodSocket } from "./list-method.js";
import { parseProxyHeader, type ProxiedPeer, type ProxyHeaderResult } from "./proxy-protocol.js";

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

/** Vault's ReadHeaderTimeout for the PROXY header: a sender that says nothing for this long is dropped. */
const PROXY_HEADER_TIMEOUT_MS = 10_000;

/**
 * Serves `fetch` on a listener "tcp" stanza: plain HTTP, or TLS (1.2–1.3 unless narrowed) when it
 * has a cert and key; optionally behind a PROXY protocol header, and with X-Forwarded-For rules.
 */
export async function startApiListener(config: ListenerConfig, fetch: FetchHandler): Promise<RunningListener> {
  const forwardedFor = config.xForwardedFor;
  let draining = false;
  const http = createHttpServer(
    // Node checks header and request timeouts on this interval (30 s by default): too coarse for http_read_header_timeout.
    config.httpTimeouts ? { connectionsCheckingInterval: 1_000 } : {},
    getRequestListener(async (request, env) => {
      const socket = env.incoming.socket;
      let client: ClientPeer = { address: socket.remoteAddress, port: socket.remotePort };
      if (forwardedFor) {
        const resolved = resolveForwardedFor(request.headers.get("x-forwarded-for"), client, forwardedFor);
        if ("error" in resolved) return errorResponse(resolved.status, resolved.error);
        client = resolved.client;
      }
      const response = await fetch(request, {
        clientAddress: client.address,
        clientPort: client.port,
        unauthenticatedMetrics: config.unauthenticatedMetricsAccess === true,
        maxRequestSize: config.maxRequestSize,
        clientCertificates: peerCertificateChain(socket),
        readBody: incomingBodyReader(env.incoming),
      });
      // Decided when the answer is ready, not when the request came, so requests inside when the
      // drain began close their connection too. Node then sends `Connection: close` and closes it.
      if (draining) (env.outgoing as ServerResponse).shouldKeepAlive = false;
      return response;
    }),
  );
  applyHttpTimeouts(http, config.httpTimeouts);
  const inject = (socket: Socket, peer?: ProxiedPeer) => http.emit("connection", new ListMethodSocket(socket, peer));
  // No Nagle, as Node's HTTP server sets when it accepts connections itself: a response written as
  // headers then body would otherwise wait ~40 ms for the client's delayed ACK.
  let server: NetServer;
  const proxy = config.proxyProtocol;
  if (config.tlsDisable) {
    server = createNetServer({ noDelay: true }, proxy ? (raw) => readProxyHeader(raw, proxy, (peer) => inject(raw, peer)) : inject);
  } else {
    // The PROXY header comes before the TLS handshake: read it on the raw socket, then hand that to TLS.
    const peers = new WeakMap<Socket, ProxiedPeer>();
    const tls = createTlsServer(await tlsServerOptions(config), (socket) => {
      const raw = (socket as TlsSocketWithParent)._parent;
      inject(socket, raw && peers.get(raw));
    });
    server = proxy
      ? createNetServer({ noDelay: true }, (raw) =>
          readProxyHeader(raw, proxy, (peer) => {
            if (peer) peers.set(raw, peer);
            tls.emit("connection", raw);
          }),
        )
      : tls;
  }
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

/**
 * The certificates the TLS client presented (DER, leaf first), or undefined when it sent none. The
 * handshake proved the client holds the leaf's key; whether the chain is trusted is the cert auth
 * method's (or, with tls_require_and_verify_client_cert, the handshake's) judgement.
 */
function peerCertificateChain(socket: unknown): Uint8Array[] | undefined {
  const tls = socket instanceof ListMethodSocket ? socket.underlying : socket;
  if (!(tls instanceof TLSSocket)) return undefined;
  const chain: Uint8Array[] = [];
  const seen = new Set<string>();
  let current: DetailedPeerCertificate | undefined = tls.getPeerCertificate(true);
  while (current?.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(new Uint8Array(current.raw));
    current = current.issuerCertificate;
  }
  return chain.length > 0 ? chain : undefined;
}

/** Node keeps the raw socket a TLS server wrapped here (since its first releases; there is no public accessor). */
type TlsSocketWithParent = TLSSocket & { _parent?: Socket };

async function tlsServerOptions(config: ListenerConfig): Promise<TlsOptions> {
  const options: TlsOptions = {
    ...(await readTlsFiles(config)),
    minVersion: config.tlsMinVersion ?? "TLSv1.2",
    maxVersion: config.tlsMaxVersion ?? "TLSv1.3",
    ALPNProtocols: ["http/1.1"],
    noDelay: true,
    ...(config.tlsCiphers !== undefined && { ciphers: config.tlsCiphers }),
    ...(config.tlsPreferServerCipherSuites && { honorCipherOrder: true }),
    // The handshake itself fails without a certificate that chains to the CA (the system CAs when none is set).
    ...(config.tlsRequireClientCert && { requestCert: true, rejectUnauthorized: true }),
    // As Vault: a client certificate is asked for but not required, and the cert auth method judges it.
    ...(!config.tlsRequireClientCert && !config.tlsDisableClientCerts && { requestCert: true, rejectUnauthorized: false }),
    ...(config.tlsClientCaFile !== undefined && { ca: await readConfigFile(config, config.tlsClientCaFile, "tls_client_ca_file") }),
  };
  try {
    createSecureContext(options);
  } catch (error) {
    throw new ConfigError(
      `listener "tcp" (${config.address}): the TLS settings are not usable (tls_cert_file, tls_key_file, tls_cipher_suites, tls_client_ca_file): ${(error as Error).message}`,
    );
  }
  return options;
}

/**
 * Vault's PROXY protocol behaviours: use_always trusts every sender's header; allow_authorized uses
 * an authorized sender's header and strips and ignores anyone else's; deny_unauthorized drops
 * connections from senders not authorized. A header is optional, as in Vault; a malformed one, or
 * none decided within the timeout, drops the connection.
 */
function readProxyHeader(socket: Socket, settings: ProxyProtocolConfig, accept: (peer?: ProxiedPeer) => void): void {
  const authorized = settings.behavior === "use_always" || addressInBlocks(socket.remoteAddress, settings.authorizedAddrs);
  if (!authorized && settings.behavior === "deny_unauthorized") {
    socket.destroy();
    return;
  }
  let received: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), PROXY_HEADER_TIMEOUT_MS);
  const stop = () => {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("error", stop);
    socket.off("close", stop);
    socket.pause();
  };
  const onData = (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    let result: ProxyHeaderResult;
    try {
      result = parseProxyHeader(received);
    } catch {
      stop();
      socket.destroy();
      return;
    }
    if (result.kind === "incomplete") return;
    stop();
    const rest = result.kind === "header" ? received.subarray(result.length) : received;
    if (rest.length > 0) socket.unshift(rest);
    accept(authorized && result.kind === "header" ? result.source : undefined);
  };
  socket.on("data", onData);
  socket.on("error", stop);
  socket.on("close", stop);
}

/** Vault's http_*_timeout settings on Node's server; an idle timeout of 0 falls back to the read timeouts, as in Go. */
function applyHttpTimeouts(http: HttpServer, timeouts: HttpTimeouts | undefined): void {
  if (!timeouts) return;
  if (timeouts.readHeaderMs !== undefined) http.headersTimeout = timeouts.readHeaderMs;
  if (timeouts.readMs !== undefined) http.requestTimeout = timeouts.readMs;
  if (timeouts.idleMs !== undefined) http.keepAliveTimeout = timeouts.idleMs || timeouts.readMs || timeouts.readHeaderMs || 0;
  const writeMs = timeouts.writeMs;
  if (writeMs) {
    // Go's write deadline: set when a request's header has been read; a response not sent by then ends the connection.
    http.on("request", (_request: IncomingMessage, response: ServerResponse) => {
      const timer = setTimeout(() => response.destroy(), writeMs);
      response.once("close", () => clearTimeout(timer));
    });
  }
}

async function readConfigFile(config: ListenerConfig, file: string, key: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new ConfigError(`listener "tcp" (${config.address}): cannot read ${key} ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
}

async function readTlsFiles(config: ListenerConfig): Promise<{ cert: Buffer; key: Buffer }> {
  return {
    cert: await readConfigFile(config, config.tlsCertFile!, "tls_cert_file"),
    key: await readConfigFile(config, config.tlsKeyFile!, "tls_key_file"),
  };
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
