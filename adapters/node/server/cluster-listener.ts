import { createServer as createH2cServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from "node:http2";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import { getRequestListener } from "@hono/node-server";
import type { Heartbeat } from "../../../src/ha/forwarding.js";
import type { LeaseChannelEnd } from "../../../src/ha/read-lease-grants.js";
import { splitLines } from "../../../src/ha/read-lease-protocol.js";
import type { Advertisement } from "../../../src/ha/advertisement.js";
import type { RequestEnv } from "../../../src/http/app.js";
import type { Logger } from "../../../src/sdk/logger.js";
import {
  decodeCertificateChain,
  FORWARDED_CLIENT_CERTIFICATES_HEADER,
  FORWARDED_CLIENT_HEADER,
  FORWARDED_CLIENT_PORT_HEADER,
  FORWARDING_ALPN,
  HEARTBEAT_PATH,
  READ_LEASE_PATH,
  serverTlsOptions,
  sha256Fingerprint,
} from "./cluster-protocol.js";
import { splitHostPort } from "./http-listener.js";
import { incomingBodyReader } from "./incoming-body.js";

type FetchHandler = (request: Request, env: RequestEnv) => Response | Promise<Response>;

/** What the active answers on the cluster channel besides forwarded requests. */
export interface ClusterDuties {
  recordHeartbeat(heartbeat: Heartbeat): void;
  /** A standby's read-lease channel opened (standby reads); `send` writes one line to it. */
  openReadLease(send: (line: string) => void): LeaseChannelEnd;
}

/** On stop, how long streams already inside may take to finish after GOAWAY before their sockets are cut. */
const CLOSE_GRACE_MS = 2_000;

/** Handshakes that fail (load-balancer probes, port scans) are counted and logged once per interval. */
const REJECTION_LOG_INTERVAL_MS = 60_000;

/**
 * The active node's cluster listeners (one per API listener's `cluster_address`), started for
 * each active term with that term's advertised certificate and stopped on standby or seal.
 */
export class ClusterListeners {
  readonly #addresses: string[];
  readonly #fetch: FetchHandler;
  readonly #duties: ClusterDuties;
  readonly #logger: Logger;
  #running: { servers: TlsServer[]; sockets: Set<TLSSocket>; sessions: Set<ServerHttp2Session> } | null = null;
  #rejected = 0;
  /** Open read-lease streams (standby reads), ended when the listeners stop. */
  readonly #leaseStreams = new Set<Http2ServerResponse>();
  #lastRejectionLog = 0;
  /** Starts and stops run one after another: a term can end while its listeners still start. */
  #queue: Promise<void> = Promise.resolve();

  constructor(addresses: string[], fetch: FetchHandler, duties: ClusterDuties, logger: Logger) {
    this.#addresses = addresses;
    this.#fetch = fetch;
    this.#duties = duties;
    this.#logger = logger;
  }

  start(advertisement: Advertisement): Promise<void> {
    return this.#enqueue(() => this.#start(advertisement));
  }

  stop(): Promise<void> {
    return this.#enqueue(() => this.#stop());
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(step);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #start(advertisement: Advertisement): Promise<void> {
    await this.#stop();
    const sockets = new Set<TLSSocket>();
    const sessions = new Set<ServerHttp2Session>();
    const running = { servers: [] as TlsServer[], sockets, sessions };
    this.#running = running;
    const h2 = createH2cServer(this.#handler());
    h2.on("session", (session: ServerHttp2Session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    const expectedPeer = sha256Fingerprint(advertisement.cluster_cert);
    for (const address of this.#addresses) {
      const server = createTlsServer(serverTlsOptions(advertisement), (socket) => {
        // requestCert + ca already demand the advertised certificate; insist on exactly it.
        if (socket.alpnProtocol !== FORWARDING_ALPN || socket.getPeerCertificate().fingerprint256 !== expectedPeer) {
          this.#countRejection(`unexpected peer or protocol ${String(socket.alpnProtocol)}`);
          socket.destroy();
          return;
        }
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
        h2.emit("connection", socket);
      });
      server.on("tlsClientError", (error) => this.#countRejection(error.message));
      const { host, port } = splitHostPort(address);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      running.servers.push(server);
      this.#logger.info("cluster listener started", { address });
    }
  }

  async #stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#running = null;
    const closed = Promise.all(running.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    // GOAWAY: streams already inside finish; streams the standbys open after it are refused, which
    // tells them the request was not delivered and may go to the next active, writes included.
    const sessionsDone = Promise.all([...running.sessions].map((session) => new Promise<void>((resolve) => session.close(resolve))));
    // Lease streams never end by themselves: end them, so they do not hold the sessions open.
    for (const answers of this.#leaseStreams) answers.end();
    this.#leaseStreams.clear();
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([sessionsDone, new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    for (const socket of running.sockets) socket.destroy();
    await closed;
    this.#logger.info("cluster listeners stopped");
  }

  #handler(): (request: Http2ServerRequest, response: Http2ServerResponse) => void {
    const forwarded = getRequestListener((request, env) =>
      this.#fetch(request, {
        clientAddress: request.headers.get(FORWARDED_CLIENT_HEADER) ?? undefined,
        clientPort: Number(request.headers.get(FORWARDED_CLIENT_PORT_HEADER)) || undefined,
        clientCertificates: decodeCertificateChain(request.headers.get(FORWARDED_CLIENT_CERTIFICATES_HEADER)),
        forwarded: true,
        readBody: incomingBodyReader(env.incoming),
      }),
    );
    return (request, response) => {
      if (request.url === HEARTBEAT_PATH) {
        void this.#heartbeat(request, response);
        return;
      }
      if (request.url === READ_LEASE_PATH) {
        this.#readLease(request, response);
        return;
      }
      void forwarded(request, response);
    };
  }

  /** Lines both ways between a standby's lease and ours (src/ha/read-lease-grants.ts). */
  #readLease(request: Http2ServerRequest, response: Http2ServerResponse): void {
    this.#leaseStreams.add(response);
    response.writeHead(200, { "content-type": "text/plain" });
    const lease = this.#duties.openReadLease((line) => {
      if (!response.writableEnded) response.write(`${line}\n`);
    });
    const feed = splitLines((line) => lease.receive(line));
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      if (!feed(chunk)) response.stream.close();
    });
    request.on("end", () => response.end());
    response.on("close", () => {
      this.#leaseStreams.delete(response);
      lease.closed();
    });
  }

  async #heartbeat(request: Http2ServerRequest, response: Http2ServerResponse): Promise<void> {
    try {
      let text = "";
      for await (const chunk of request) text += chunk;
      this.#duties.recordHeartbeat(JSON.parse(text) as Heartbeat);
      response.writeHead(204).end();
    } catch {
      // Not active any more (or a malformed beat): the standby will look for the new active.
      response.writeHead(503).end();
    }
  }

  #countRejection(reason: string): void {
    this.#rejected++;
    const now = Date.now();
    if (now - this.#lastRejectionLog < REJECTION_LOG_INTERVAL_MS) return;
    this.#lastRejectionLog = now;
    this.#logger.warn("rejected connections on the cluster port (only the advertised certificate is accepted)", {
      total: this.#rejected,
      last_reason: reason,
    });
  }
}
