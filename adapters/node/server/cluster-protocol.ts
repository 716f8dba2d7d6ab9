import type { ConnectionOptions, TlsOptions } from "node:tls";
import { X509Certificate } from "node:crypto";
import type { Advertisement } from "../../../src/ha/advertisement.js";
import { CLUSTER_SERVER_NAME } from "../../../src/ha/identity.js";

/**
 * The cluster channel between standbys and the active: HTTP/2 over mutually-authenticated TLS ≥ 1.2
 * with both sides presenting the active term's advertised certificate. The ALPN name carries the
 * protocol version, so mismatched versions fail the handshake (and are logged and counted as
 * fall-backs) instead of misbehaving.
 */
export const FORWARDING_ALPN = "strongbox-forward/1";

/** Set by the forwarding standby: the client address it saw (the active logs and authorises with it). */
export const FORWARDED_CLIENT_HEADER = "x-strongbox-forwarded-client";
/** ...and its source port (audit entries' remote_port). */
export const FORWARDED_CLIENT_PORT_HEADER = "x-strongbox-forwarded-client-port";

/**
 * ...and the TLS client certificate chain its listener received (base64 DER, leaf first, comma
 * separated), for the cert auth method's login. Read only by the cluster listener: the API
 * listener never looks at it, and a standby drops any a client sent before forwarding.
 */
export const FORWARDED_CLIENT_CERTIFICATES_HEADER = "x-strongbox-forwarded-client-certificates";

/** The chain as the header carries it; at most this many certificates are taken from it. */
const MAX_FORWARDED_CERTIFICATES = 10;

export function encodeCertificateChain(chain: Uint8Array[]): string {
  return chain.map((der) => Buffer.from(der).toString("base64")).join(",");
}

export function decodeCertificateChain(header: string | null): Uint8Array[] | undefined {
  if (!header) return undefined;
  return header
    .split(",")
    .slice(0, MAX_FORWARDED_CERTIFICATES)
    .map((item) => new Uint8Array(Buffer.from(item.trim(), "base64")));
}

/** Served by the cluster listener itself, never by the API. */
export const HEARTBEAT_PATH = "/cluster/heartbeat";
/**
 * A standby's read-lease channel (src/ha/read-lease.ts): one long-lived stream to this path, lines
 * of text both ways.
 */
export const READ_LEASE_PATH = "/cluster/read-lease";

/** HTTP/1.1 hop-by-hop headers: meaningless (or illegal) on the HTTP/2 hop. */
export const HOP_BY_HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
  "te",
  "trailer",
  "http2-settings",
]);

export function sha256Fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** The active's side: only the current advertisement's certificate is accepted from clients. */
export function serverTlsOptions(advertisement: Advertisement): TlsOptions {
  return {
    cert: advertisement.cluster_cert,
    key: advertisement.cluster_key,
    ca: [advertisement.cluster_cert],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
    ALPNProtocols: [FORWARDING_ALPN],
  };
}

/** The standby's side: trusts only the advertised certificate and presents it back. */
export function clientTlsOptions(advertisement: Advertisement): ConnectionOptions {
  const { hostname, port } = new URL(advertisement.cluster_addr);
  const expected = sha256Fingerprint(advertisement.cluster_cert);
  return {
    host: hostname.replace(/^\[|\]$/g, ""),
    port: Number(port || 443),
    cert: advertisement.cluster_cert,
    key: advertisement.cluster_key,
    ca: [advertisement.cluster_cert],
    servername: CLUSTER_SERVER_NAME,
    minVersion: "TLSv1.2",
    ALPNProtocols: [FORWARDING_ALPN],
    checkServerIdentity: (_host, peer) => (peer.fingerprint256 === expected ? undefined : new Error("cluster peer is not the advertised active node")),
  };
}
