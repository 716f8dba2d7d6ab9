import type { Advertisement } from "../ha/advertisement.js";
import { NOT_SERVED_HEADER, NOT_SERVED_STATUS, NotDeliveredError } from "../ha/forwarding.js";
import type { Leadership, LeaderView } from "../ha/leadership.js";
import type { Logger } from "../sdk/logger.js";
import { errorResponse } from "./respond.js";
import { sameHostAndPort } from "./vault-shapes.js";

/**
 * How often a held request looks for the new active again (the leader view's cache is dropped
 * first); it looks at once when this node becomes the active.
 */
const HOLD_POLL_MS = 50;

/** Methods that change nothing: sending one twice is harmless, so any failed forward may be retried. */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "LIST", "OPTIONS"]);

export interface StandbyRouting {
  leadership: Leadership;
  logger: Logger;
  /** How long a request waits for an active node to be known before the 503; 0 answers at once. */
  holdMs: number;
  /** Serves the request here: this node became active while the request waited. */
  serveHere(body: Uint8Array): Promise<Response>;
}

/**
 * What a standby does with a request it does not answer itself: find the active, holding the
 * request while none is known (lock free, being taken over, advertisement not yet written, the
 * target just left) for at most `holdMs`, then 503 with Retry-After; 503 at once when this node
 * cannot read the lock store (cut off from it, it would not see a new active appear). `X-Vault-No-Request-Forwarding`
 * or no forwarder → 307 to the active's advertised `api_addr`; otherwise forward.
 *
 * A failed forward is sent again only when that cannot apply it twice: the forwarder proved the
 * request never reached the target's router (NotDeliveredError), or the method changes nothing.
 * Any other failure of a write (timeout, stream reset after sending) may have been applied, so the
 * client gets the 307 and decides, as before. Targets come only from the advertisement.
 */
export async function routeFromStandby(
  routing: StandbyRouting,
  request: Request,
  clientAddress: string | undefined,
  clientPort: number | undefined,
  /** The body's bytes, read from `request` within its limit; passed on unparsed. */
  body: Uint8Array,
  /** The TLS client certificate chain this node's listener received (the cert auth method's login needs it on the active). */
  clientCertificates?: Uint8Array[],
): Promise<Response> {
  const { leadership, logger, holdMs } = routing;
  const { forwarder, forwarding: counters } = leadership;
  const deadline = Date.now() + holdMs;
  const optedOut = !forwarder || request.headers.get("x-vault-no-request-forwarding") !== null;
  let redirectOnly = optedOut;
  let readRetries = 0;
  /** Where the last forward failed, and whether that target may serve it after a pause. */
  let failed: { target: Advertisement; retryable: boolean; error: unknown } | null = null;
  let unconnectedRetries = 0;
  let heldSince: number | null = null;
  try {
    return await route();
  } finally {
    if (heldSince !== null) {
      counters.held++;
      counters.heldMs += Date.now() - heldSince;
      counters.holding--;
    }
  }

  async function route(): Promise<Response> {
    for (let first = true; ; first = false) {
      if (!first) leadership.forgetLeader();
      const view = await lookUp(leadership, logger);
      if (view?.isSelf) return routing.serveHere(body);
      const target = view?.advertisement ?? null;
      if (!target) {
        // Holding waits for an active to appear, which a node that cannot read the lock store would
        // not see: a client held here is one not retrying on a node that can serve it.
        if (!view) return noActiveKnown("the HA lock store cannot be reached from this node; retry shortly");
        if (Date.now() >= deadline) return noActiveKnown();
        if (heldSince === null) {
          heldSince = Date.now();
          counters.holding++;
        }
        await pause(leadership);
        continue;
      }
      if (failed && sameTerm(target, failed.target)) {
        // Failed in transit: only a new active (or certificate) is worth a retry. Not delivered: the
        // target is handing over or restarting its listener; try again shortly, within the bound.
        if (!failed.retryable || Date.now() >= deadline) return fallBack(request, target, counters, logger, failed.error);
        await pause(leadership);
      }
      if (redirectOnly) return optedOut ? redirectToActive(request, target) : fallBack(request, target, counters, logger, failed?.error);
      try {
        const response = await forwarder!.forward(request, body, target, clientAddress, clientPort, clientCertificates);
        counters.forwarded++;
        return response;
      } catch (error) {
        if (error instanceof NotDeliveredError) {
          // Refused while handing over: wait for the next active. No connection: try once more, then
          // redirect, so a broken channel costs a client no more than one pause.
          failed = { target, retryable: error.handingOver || unconnectedRetries++ === 0, error };
          continue;
        }
        // A read is safe to repeat once, on a fresh connection to the same active too (a heartbeat
        // that timed out under load drops the session and fails the reads on it); a write may have
        // been applied, so it is redirected rather than sent again.
        const repeatable = IDEMPOTENT_METHODS.has(request.method.toUpperCase()) && readRetries++ === 0;
        failed = { target, retryable: repeatable, error };
        if (!repeatable) redirectOnly = true;
      }
    }
  }
}

function pause(leadership: Leadership): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      stopWaiting();
      resolve();
    };
    const timer = setTimeout(wake, HOLD_POLL_MS);
    const stopWaiting = leadership.onceActive(wake);
  });
}

/** The leader view, or null when the lock store does not answer this node (held like no active). */
async function lookUp(leadership: Leadership, logger: Logger): Promise<LeaderView | null> {
  try {
    return await leadership.leader();
  } catch (error) {
    logger.warn("cannot look up the active node", { error: error instanceof Error ? error.message : String(error) });
    return null;
  }
}

/** Same node, term and certificate: a forward that just failed there would fail again. */
function sameTerm(a: Advertisement, b: Advertisement): boolean {
  return a.node_id === b.node_id && a.epoch === b.epoch && a.cluster_cert === b.cluster_cert;
}

function fallBack(request: Request, target: Advertisement, counters: Leadership["forwarding"], logger: Logger, error: unknown): Response {
  counters.fallbacks++;
  logger.warn("request forwarding failed; redirecting the client instead", {
    active: target.cluster_addr,
    error: error instanceof Error ? error.message : String(error),
    fallbacks: counters.fallbacks,
  });
  return redirectToActive(request, target);
}

function noActiveKnown(reason = "no active node is known: the HA lock is free or its holder has not advertised itself yet; retry shortly"): Response {
  const response = errorResponse(503, reason);
  response.headers.set("retry-after", "1");
  return response;
}

export function redirectToActive(request: Request, advertisement: Advertisement): Response {
  const url = new URL(request.url);
  const target = new URL(advertisement.api_addr);
  if (sameHostAndPort(url, target)) {
    // The client reached us at the active's own api_addr (e.g. a load balancer's): redirecting would loop.
    return errorResponse(
      503,
      `this node is a standby and the active node's api_addr (${advertisement.api_addr}) is the address this request came in on; ` +
        "redirecting would loop. Behind a load balancer, give each node its own api_addr or keep request forwarding on, " +
        "and health-check the load balancer with /v1/sys/health so it sends traffic to the active node only",
    );
  }
  const location = `${target.origin}${url.pathname}${url.search}`;
  return new Response(null, { status: 307, headers: { location, "cache-control": "no-store" } });
}

/** The cluster channel's "not served here" answer (see NOT_SERVED_STATUS): the standby sends the request again elsewhere. */
export function notServedHere(): Response {
  return new Response(null, { status: NOT_SERVED_STATUS, headers: { [NOT_SERVED_HEADER]: "1" } });
}
