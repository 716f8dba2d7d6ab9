import type { Core } from "../core.js";
import type { Advertisement } from "../ha/advertisement.js";
import type { Logger } from "../logger.js";
import { requestBytes } from "./request-body.js";
import { errorResponse } from "./respond.js";
import { sameHostAndPort } from "./vault-shapes.js";

/** Sends a request to the active node over the cluster channel (the adapter provides it). */
export interface Forwarder {
  /** Resolves with the active's response unchanged; rejects on any failure to get one. */
  forward(request: Request, body: Uint8Array, advertisement: Advertisement, clientAddress: string | undefined): Promise<Response>;
}

/** Counted so a silent fall-back to redirects (openbao#3899) shows in heartbeats and sys/ha-status. */
export interface ForwardingCounters {
  forwarded: number;
  fallbacks: number;
}

export interface StandbyRouting {
  /** Absent when clustering is disabled: standbys then always redirect. */
  forwarder?: Forwarder;
  counters: ForwardingCounters;
  logger: Logger;
}

/**
 * What a standby does with a request it does not answer itself:
 * no active known → 503; `X-Vault-No-Request-Forwarding` or no forwarder → 307 to the active's
 * advertised `api_addr`; otherwise forward, retrying once if the active changed meanwhile, and
 * fall back to the 307 when forwarding fails. Targets come only from the advertisement.
 */
export async function routeFromStandby(
  core: Core,
  request: Request,
  routing: StandbyRouting,
  clientAddress: string | undefined,
  /** The body, when the caller has already read it from `request`. */
  readBody?: Uint8Array,
): Promise<Response> {
  let advertisement: Advertisement | null;
  try {
    ({ advertisement } = await core.leader());
  } catch (error) {
    // The lock store does not answer this node: it cannot know the active, clients should retry.
    routing.logger.warn("cannot look up the active node", { error: error instanceof Error ? error.message : String(error) });
    return noActiveKnown("the HA lock store cannot be reached from this node; retry shortly");
  }
  if (!advertisement) return noActiveKnown();
  if (!routing.forwarder || request.headers.get("x-vault-no-request-forwarding")) return redirectToActive(request, advertisement);

  const body = readBody ?? (await requestBytes(request));
  let target = advertisement;
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await routing.forwarder.forward(request, body, target, clientAddress);
      routing.counters.forwarded++;
      return response;
    } catch (error) {
      // A graceful step-down makes forwards fail for a moment (vault#21473): look again, try the new active once.
      core.forgetLeader();
      const current = (await core.leader()).advertisement;
      const changed = current && (current.node_id !== target.node_id || current.epoch !== target.epoch);
      if (attempt === 1 && changed) {
        target = current;
        continue;
      }
      routing.counters.fallbacks++;
      routing.logger.warn("request forwarding failed; redirecting the client instead", {
        active: target.cluster_addr,
        error: error instanceof Error ? error.message : String(error),
        fallbacks: routing.counters.fallbacks,
      });
      return current ? redirectToActive(request, current) : noActiveKnown();
    }
  }
}

function noActiveKnown(
  reason = "no active node is known: the HA lock is free or its holder has not advertised itself yet; retry shortly",
): Response {
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
