import type { Advertisement } from "./advertisement.js";

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
}

/** A standby's channel to the active node (the adapter provides it: the core opens no sockets). */
export interface Forwarder {
  /** Resolves with the active's response unchanged; rejects on any failure to get one. */
  forward(request: Request, body: Uint8Array, advertisement: Advertisement, clientAddress: string | undefined): Promise<Response>;
  /** Tells the active this standby is alive; rejects when the active did not take it. */
  heartbeat(advertisement: Advertisement, heartbeat: Heartbeat): Promise<void>;
  /** Drops connections to earlier actives, so requests waiting on them fail now and are routed again. */
  close(): void;
}

/** Counted so a silent fall-back to redirects (openbao#3899) shows in heartbeats and sys/ha-status. */
export interface ForwardingCounters {
  forwarded: number;
  fallbacks: number;
}
