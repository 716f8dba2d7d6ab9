import type { Core } from "../core.js";
import type { Advertisement } from "../ha/advertisement.js";
import { errorResponse } from "./respond.js";

/**
 * What a standby does with a request it does not answer itself (../shared/ARCHITECTURE.md):
 * no active known → 503; otherwise 307 to the active's advertised `api_addr` with the original
 * path and query. The target comes only from the advertisement, never from request headers.
 */
export async function routeFromStandby(core: Core, request: Request): Promise<Response> {
  const { advertisement } = await core.leader();
  if (!advertisement) {
    const response = errorResponse(503, "no active node is known: the HA lock is free or its holder has not advertised itself yet; retry shortly");
    response.headers.set("retry-after", "1");
    return response;
  }
  return redirectToActive(request, advertisement);
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

function sameHostAndPort(a: URL, b: URL): boolean {
  const port = (u: URL) => u.port || (u.protocol === "https:" ? "443" : "80");
  return a.hostname.toLowerCase() === b.hostname.toLowerCase() && port(a) === port(b);
}
