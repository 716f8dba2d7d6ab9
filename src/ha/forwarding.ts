import type { Advertisement } from "./advertisement.js";
import type { LeaseChannel } from "./read-lease.js";

/** What a standby tells the active node over the cluster channel, periodically. */
export interface Heartbeat {
  node_id: string;
  hostname: string;
  api_address: string;
  cluster_address: string;
  version: string;
  /** The standby's forwarding counters, so fallbacks to 307 are visible cluster-wide. */
  forwarded_requests: number;
  forwarding_fallbacks: number;
  /** Whether the standby answers reads itself (standby_reads); absent from older nodes. */
  performance_standby?: boolean;
}

/** A standby's channel to the active node (the adapter provides it: the core opens no sockets). */
export interface Forwarder {
  /**
   * Resolves with the active's response unchanged; rejects on any failure to get one. The client's
   * address, port and TLS certificate chain travel with it (the active trusts them from a standby only).
   */
  forward(
    request: Request,
    body: Uint8Array,
    advertisement: Advertisement,
    clientAddress: string | undefined,
    clientPort?: number,
    clientCertificates?: Uint8Array[],
  ): Promise<Response>;
  /** Tells the active this standby is alive; rejects when the active did not take it. */
  heartbeat(advertisement: Advertisement, heartbeat: Heartbeat): Promise<void>;
  /**
   * Opens a read-lease channel to the active (read-lease.ts): `receive` gets each line the active
   * sends, `closed` is called once when the channel is gone.
   */
  readLease(advertisement: Advertisement, receive: (line: string) => void, closed: () => void): LeaseChannel;
  /** Drops connections to earlier actives, so requests waiting on them fail now and are routed again. */
  close(): void;
}

/** Counted so a silent fall-back to redirects (openbao#3899) shows in heartbeats and sys/ha-status. */
export interface ForwardingCounters {
  forwarded: number;
  fallbacks: number;
  /** Requests held while no active node was known (a hand-over), how long in all, and how many now. */
  held: number;
  heldMs: number;
  holding: number;
}

/**
 * How a node's cluster listener answers a forwarded request it did not hand to its router (it is
 * not, or no longer, active): a status plus a header that only the cluster channel produces. The
 * forwarder turns it into a NotDeliveredError; it never reaches a client.
 */
export const NOT_SERVED_STATUS = 421;
export const NOT_SERVED_HEADER = "x-strongbox-not-served";

/**
 * A forward that provably never reached the target's router (refused stream, GOAWAY below our
 * stream, no connection, or the not-served marker): safe to send again, writes included.
 */
export class NotDeliveredError extends Error {
  override name = "NotDeliveredError";
  constructor(
    message: string,
    /**
     * The target answered but refused the request (not-served marker, refused stream): it is handing
     * over, so the request waits for the next active. Otherwise no connection came up, which may
     * as well be a broken channel (firewall, version mismatch) as a restarting node.
     */
    readonly handingOver: boolean,
  ) {
    super(message);
  }
}
