import type { ForwardedForConfig } from "../config/types.js";
import { addressInBlocks, parseCidr } from "../sdk/cidr.js";

export interface ClientPeer {
  address: string | undefined;
  port: number | undefined;
}

/** What a listener's `x_forwarded_for_*` settings make of one request: the client, or Vault's 400. */
export type ForwardedForResult = { client: ClientPeer } | { status: 400; error: string };

/**
 * Vault's X-Forwarded-For rules: only a connection from an authorized address may name the client;
 * the address used is the one `hopSkips` from the end of the chain (all X-Forwarded-For headers
 * joined by commas, as `Headers.get` gives them). Without `rejectNotPresent` a missing or unusable
 * header leaves the connection's address; without `rejectNotAuthorized` an unauthorized sender's
 * header is ignored.
 */
export function resolveForwardedFor(header: string | null, connection: ClientPeer, settings: ForwardedForConfig): ForwardedForResult {
  const keep = { client: connection };
  if (header === null) {
    return settings.rejectNotPresent ? { status: 400, error: "missing x-forwarded-for header and configured to reject when not present" } : keep;
  }
  if (!addressInBlocks(connection.address, settings.authorizedAddrs)) {
    return settings.rejectNotAuthorized
      ? { status: 400, error: "client address not authorized for x-forwarded-for and configured to reject connection" }
      : keep;
  }
  const chain: ClientPeer[] = [];
  for (const entry of header.split(",").map((text) => text.trim())) {
    const peer = parseHop(entry);
    if (!peer) return settings.rejectNotPresent ? { status: 400, error: `error parsing client address (${entry}) from header` } : keep;
    chain.push(peer);
  }
  const index = chain.length - 1 - settings.hopSkips;
  if (index < 0) {
    return {
      status: 400,
      error: `malformed x-forwarded-for configuration or request, hops to skip (${settings.hopSkips}) would skip before earliest chain link (chain length ${chain.length})`,
    };
  }
  const hop = chain[index]!;
  return { client: { address: hop.address, port: hop.port ?? connection.port } };
}

/** One hop: an IP, optionally with a port (`10.0.0.1:443`, `[2001:db8::1]:443`); undefined when not an IP. */
function parseHop(text: string): ClientPeer | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4WithPort = /^([\d.]+):(\d{1,5})$/.exec(text);
  const [host, portText] = bracketed ? [bracketed[1]!, bracketed[2]] : v4WithPort ? [v4WithPort[1]!, v4WithPort[2]] : [text, undefined];
  if (host.includes("/") || !parseCidr(host)) return undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65535) return undefined;
  return { address: host, port };
}
