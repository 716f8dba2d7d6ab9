import { isIPv4, isIPv6 } from "node:net";

/**
 * PROXY protocol v1 (text) and v2 (binary) headers, as a load balancer such as an AWS NLB writes
 * them before the client's own bytes (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
 * Strict: anything not exactly a header is an error, and a header is never longer than
 * MAX_V1_LENGTH or MAX_V2_LENGTH.
 */

export interface ProxiedPeer {
  address: string;
  port: number;
}

export type ProxyHeaderResult =
  /** The bytes so far are a prefix of a header: read more. */
  | { kind: "incomplete" }
  /** The connection does not start with a header. */
  | { kind: "absent" }
  /** A header of `length` bytes; `source` is the client, or undefined (LOCAL, UNKNOWN, non-IP families): the connection's own address stands. */
  | { kind: "header"; length: number; source?: ProxiedPeer };

export class ProxyProtocolError extends Error {
  override name = "ProxyProtocolError";
}

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
/** The spec's bound: "PROXY TCP6 " plus two full IPv6 addresses, two ports and CRLF. */
export const MAX_V1_LENGTH = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
/** Addresses plus room for TLVs (an NLB's VPC endpoint id, say); more is refused rather than buffered. */
export const MAX_V2_LENGTH = 4096;

/** Whether `data` (the first bytes of a connection) starts with a PROXY header, and its client address. */
export function parseProxyHeader(data: Buffer): ProxyHeaderResult {
  if (startsWithPrefixOf(data, V2_SIGNATURE)) return data.length < V2_SIGNATURE.length ? { kind: "incomplete" } : parseV2(data);
  if (startsWithPrefixOf(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? { kind: "incomplete" } : parseV1(data);
  return { kind: "absent" };
}

/** Whether data and prefix agree on their common length (data may be shorter or longer). */
function startsWithPrefixOf(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return n > 0 && data.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV1(data: Buffer): ProxyHeaderResult {
  const lf = data.indexOf(0x0a);
  if (lf === -1) {
    if (data.length >= MAX_V1_LENGTH) throw new ProxyProtocolError(`PROXY v1 header longer than ${MAX_V1_LENGTH} bytes`);
    return { kind: "incomplete" };
  }
  if (lf + 1 > MAX_V1_LENGTH) throw new ProxyProtocolError(`PROXY v1 header longer than ${MAX_V1_LENGTH} bytes`);
  if (data[lf - 1] !== 0x0d) throw new ProxyProtocolError("PROXY v1 header does not end with CRLF");
  const line = data.toString("latin1", 0, lf - 1);
  const fields = line.split(" ");
  const length = lf + 1;
  if (fields[1] === "UNKNOWN") return { kind: "header", length };
  if (fields.length !== 6) throw new ProxyProtocolError("PROXY v1 header must be PROXY TCP4|TCP6 source destination source-port destination-port");
  const [, family, source, destination, sourcePort, destinationPort] = fields as [string, string, string, string, string, string];
  const isFamily = family === "TCP4" ? isIPv4 : family === "TCP6" ? isIPv6 : undefined;
  if (!isFamily) throw new ProxyProtocolError(`PROXY v1 header has unknown protocol ${JSON.stringify(family.slice(0, 16))}`);
  if (!isFamily(source) || !isFamily(destination)) throw new ProxyProtocolError(`PROXY v1 header has an address that is not ${family}`);
  v1Port(destinationPort);
  return { kind: "header", length, source: { address: family === "TCP6" ? canonicalIPv6(source) : source, port: v1Port(sourcePort) } };
}

/** A decimal port without leading zeros, as the spec writes them. */
function v1Port(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw new ProxyProtocolError("PROXY v1 header has an invalid port");
  return Number(text);
}

function parseV2(data: Buffer): ProxyHeaderResult {
  if (data.length < V2_FIXED) return { kind: "incomplete" };
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) throw new ProxyProtocolError(`PROXY v2 header has version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw new ProxyProtocolError(`PROXY v2 header has unknown command ${command}`);
  const addressLength = data.readUInt16BE(14);
  const length = V2_FIXED + addressLength;
  if (length > MAX_V2_LENGTH) throw new ProxyProtocolError(`PROXY v2 header longer than ${MAX_V2_LENGTH} bytes`);
  if (data.length < length) return { kind: "incomplete" };
  // LOCAL: the proxy speaking for itself (a health check); the connection's address stands.
  if (command === 0) return { kind: "header", length };
  const family = data[13]! >> 4;
  const transport = data[13]! & 0x0f;
  if (transport > 2) throw new ProxyProtocolError(`PROXY v2 header has unknown transport ${transport}`);
  const body = data.subarray(V2_FIXED, length);
  switch (family) {
    case 0x1:
      if (addressLength < 12) throw new ProxyProtocolError("PROXY v2 header too short for IPv4 addresses");
      return { kind: "header", length, source: { address: [...body.subarray(0, 4)].join("."), port: body.readUInt16BE(8) } };
    case 0x2: {
      if (addressLength < 36) throw new ProxyProtocolError("PROXY v2 header too short for IPv6 addresses");
      const groups = Array.from({ length: 8 }, (_, i) => body.readUInt16BE(i * 2).toString(16));
      return { kind: "header", length, source: { address: canonicalIPv6(groups.join(":")), port: body.readUInt16BE(32) } };
    }
    case 0x0: // UNSPEC
    case 0x3: // UNIX: no IP to use
      return { kind: "header", length };
    default:
      throw new ProxyProtocolError(`PROXY v2 header has unknown address family ${family}`);
  }
}

/** RFC 5952 form (`2001:db8::1`), as Node reports socket addresses: the URL parser compresses it. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}
