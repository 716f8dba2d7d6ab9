import { type ClientHttp2Session, type ClientHttp2Stream, connect as connectH2, constants, type OutgoingHttpHeaders } from "node:http2";
import { connect as connectTls } from "node:tls";
import type { Advertisement } from "../../../src/ha/advertisement.js";
import type { LeaseChannel } from "../../../src/ha/read-lease.js";
import { splitLines } from "../../../src/ha/read-lease-protocol.js";
import { type Forwarder, type Heartbeat, NOT_SERVED_HEADER, NOT_SERVED_STATUS, NotDeliveredError } from "../../../src/ha/forwarding.js";
import {
  clientTlsOptions,
  encodeCertificateChain,
  FORWARDED_CLIENT_CERTIFICATES_HEADER,
  FORWARDED_CLIENT_HEADER,
  FORWARDED_CLIENT_PORT_HEADER,
  HEARTBEAT_PATH,
  HOP_BY_HOP_HEADERS,
  READ_LEASE_PATH,
} from "./cluster-protocol.js";

/** Headers only this standby sets: a client's own are dropped, never passed on as the standby's word. */
const STANDBY_SET_HEADERS = new Set([FORWARDED_CLIENT_HEADER, FORWARDED_CLIENT_PORT_HEADER, FORWARDED_CLIENT_CERTIFICATES_HEADER]);

/** A forwarded request that gets no answer within this long falls back to a redirect. */
const FORWARD_TIMEOUT_MS = 30_000;
const HEARTBEAT_TIMEOUT_MS = 2_000;
/**
 * The standby's side of the cluster channel: one multiplexed HTTP/2 session to the active's
 * advertised `cluster_addr`, rebuilt whenever the advertisement changes. Never connects anywhere
 * the current advertisement does not name.
 */
export class ClusterForwarder implements Forwarder {
  #current: { key: string; session: ClientHttp2Session } | null = null;
  /** Sessions whose connection was established: only on those can a request have been sent. */
  readonly #connected = new WeakSet<ClientHttp2Session>();

  async forward(
    request: Request,
    body: Uint8Array,
    advertisement: Advertisement,
    clientAddress: string | undefined,
    clientPort?: number,
    clientCertificates?: Uint8Array[],
  ): Promise<Response> {
    const url = new URL(request.url);
    const headers: OutgoingHttpHeaders = { ":method": request.method, ":path": url.pathname + url.search };
    request.headers.forEach((value, name) => {
      if (!HOP_BY_HOP_HEADERS.has(name) && !STANDBY_SET_HEADERS.has(name)) headers[name] = value;
    });
    if (clientAddress) headers[FORWARDED_CLIENT_HEADER] = clientAddress;
    if (clientPort) headers[FORWARDED_CLIENT_PORT_HEADER] = String(clientPort);
    if (clientCertificates && clientCertificates.length > 0) headers[FORWARDED_CLIENT_CERTIFICATES_HEADER] = encodeCertificateChain(clientCertificates);
    const { status, responseHeaders, responseBody } = await this.#exchange(advertisement, headers, body, FORWARD_TIMEOUT_MS);
    if (status === NOT_SERVED_STATUS && responseHeaders.has(NOT_SERVED_HEADER)) {
      throw new NotDeliveredError("the node is no longer active and did not serve the request", true);
    }
    const nullBody = status === 204 || status === 304 || request.method === "HEAD";
    return new Response(nullBody ? null : new Uint8Array(responseBody), { status, headers: responseHeaders });
  }

  /** Tells the active this standby is alive (and how its forwarding goes); rejects if it did not take it. */
  async heartbeat(advertisement: Advertisement, heartbeat: Heartbeat): Promise<void> {
    const body = new TextEncoder().encode(JSON.stringify(heartbeat));
    const headers = { ":method": "POST", ":path": HEARTBEAT_PATH, "content-type": "application/json" };
    const session = this.#session(advertisement);
    let status: number;
    try {
      ({ status } = await this.#exchange(advertisement, headers, body, HEARTBEAT_TIMEOUT_MS));
    } catch (error) {
      // No answer: the session is dead (a partition, a frozen active). Dropping it fails the forwards
      // waiting on it now, so they fall back to a redirect instead of waiting for their own timeout.
      session.destroy();
      throw error;
    }
    if (status !== 204) throw new Error(`heartbeat refused with status ${status}`);
  }

  /** A stream of its own on the session, lines of text both ways (cluster-protocol.ts). */
  readLease(advertisement: Advertisement, receive: (line: string) => void, closed: () => void): LeaseChannel {
    const stream = this.#session(advertisement).request({ ":method": "POST", ":path": READ_LEASE_PATH });
    const feed = splitLines(receive);
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      if (!feed(chunk)) stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
    });
    let open = true;
    const gone = () => {
      if (!open) return;
      open = false;
      closed();
    };
    stream.on("error", gone);
    stream.on("close", gone);
    return {
      send: (line) => {
        if (open && stream.writable) stream.write(`${line}\n`);
      },
      // Ends our side after what was written (a release) has gone out; the active then ends its side.
      close: () => {
        if (stream.writable) stream.end();
      },
    };
  }

  close(): void {
    this.#current?.session.destroy();
    this.#current = null;
  }

  #session(advertisement: Advertisement): ClientHttp2Session {
    // The certificate too: the active re-issues it within a term, and a session pins the one it was built for.
    // Compared as text: parsing it for a fingerprint on every request cost more than the rest of a forward.
    const key = `${advertisement.node_id}/${advertisement.epoch}/${advertisement.cluster_addr}/${advertisement.cluster_cert}`;
    const current = this.#current;
    if (current && current.key === key && !current.session.closed && !current.session.destroyed) return current.session;
    current?.session.destroy();
    const tls = clientTlsOptions(advertisement);
    // HTTP/2 runs inside our own TLS socket (own ALPN), so the session itself is "http:".
    const session = connectH2("http://cluster.strongbox", { createConnection: () => connectTls(tls) });
    session.once("connect", () => this.#connected.add(session));
    session.on("error", () => session.destroy());
    session.on("close", () => {
      if (this.#current?.session === session) this.#current = null;
    });
    this.#current = { key, session };
    return session;
  }

  #exchange(
    advertisement: Advertisement,
    headers: OutgoingHttpHeaders,
    body: Uint8Array,
    timeoutMs: number,
  ): Promise<{ status: number; responseHeaders: Headers; responseBody: Buffer }> {
    return new Promise((resolve, reject) => {
      const session = this.#session(advertisement);
      let stream: ClientHttp2Stream;
      try {
        stream = session.request(headers, { endStream: body.length === 0 });
      } catch (error) {
        // The session refused to open a stream (closing after a GOAWAY): nothing was sent.
        reject(new NotDeliveredError(`not delivered to the active node: ${(error as Error).message}`, true));
        return;
      }
      /*
       * Whether the request provably never reached the active's handler, so the standby may send it
       * again (writes included) without applying it twice: the stream was refused (REFUSED_STREAM,
       * also how a GOAWAY below our stream id closes it), or the connection never came up, so
       * nothing was written. A timeout or a reset after sending proves nothing.
       */
      const fail = (error: Error) => {
        const refused = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
        const undelivered = refused || !this.#connected.has(session);
        reject(undelivered ? new NotDeliveredError(`not delivered to the active node: ${error.message}`, refused) : error);
      };
      stream.setTimeout(timeoutMs, () => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new Error(`no answer from the active node within ${timeoutMs} ms`));
      });
      stream.on("error", fail);
      stream.on("close", () => fail(new Error(`the cluster stream closed without an answer (code ${stream.rstCode})`)));
      stream.on("response", (raw) => {
        const status = Number(raw[":status"]);
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(raw)) {
          if (name.startsWith(":") || value === undefined || HOP_BY_HOP_HEADERS.has(name)) continue;
          for (const item of Array.isArray(value) ? value : [String(value)]) responseHeaders.append(name, item);
        }
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => resolve({ status, responseHeaders, responseBody: Buffer.concat(chunks) }));
      });
      if (body.length > 0) stream.end(body);
    });
  }
}
