/**
 * The Kubernetes TokenReview API (authentication.k8s.io/v1): the API server says whether a service
 * account token is valid, and for whom. Request and response shapes as the Kubernetes API
 * reference documents them; error texts as Vault's Kubernetes method words them.
 */
import { outboundHttp } from "../../sdk/outbound-http.js";

export interface ReviewedAccount {
  name: string;
  namespace: string;
  uid: string;
}

export interface TokenReviewTarget {
  /** `kubernetes_host`, e.g. https://10.0.0.1:443. */
  host: string;
  /** `kubernetes_ca_cert`: empty trusts the runtime's roots. */
  caPem: string;
  /** Whose authority asks: `token_reviewer_jwt`, else the reviewed token itself (Vault's fallback). */
  reviewerJwt: string;
}

/** Reviews `token` for `audiences`; throws with Vault's reason when the API server does not vouch for it. */
export async function reviewToken(target: TokenReviewTarget, token: string, audiences: string[]): Promise<ReviewedAccount> {
  const response = await outboundHttp({
    method: "POST",
    url: `${target.host.replace(/\/+$/, "")}/apis/authentication.k8s.io/v1/tokenreviews`,
    headers: {
      authorization: `Bearer ${target.reviewerJwt || token}`,
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify({ kind: "TokenReview", apiVersion: "authentication.k8s.io/v1", spec: { token, audiences } }),
    caPem: target.caPem || undefined,
  });
  if (response.status === 401) {
    throw new Error("lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token");
  }
  if (response.status < 200 || response.status > 206) throw new Error(`lookup failed: the server answered ${response.status}`);
  const review = parseReview(response.body);
  // A metav1.Status in place of a TokenReview: the API server refused the review itself.
  if (typeof review.status === "string" && review.status !== "Success") throw new Error(`lookup failed: ${String(review.message ?? review.status)}`);
  const status = (typeof review.status === "object" && review.status !== null ? review.status : {}) as Record<string, unknown>;
  if (typeof status.error === "string" && status.error !== "") throw new Error(`lookup failed: ${status.error}`);
  if (status.authenticated !== true) throw new Error("lookup failed: service account jwt not valid");
  const granted = Array.isArray(status.audiences) ? status.audiences.filter((aud): aud is string => typeof aud === "string") : [];
  if (audiences.length > 0 && !audiences.some((aud) => granted.includes(aud))) {
    throw new Error(`lookup failed: service account jwt valid for audience(s) [${granted.join(" ")}], but wanted [${audiences.join(" ")}]`);
  }
  const user = (typeof status.user === "object" && status.user !== null ? status.user : {}) as Record<string, unknown>;
  const parts = typeof user.username === "string" ? user.username.split(":") : [];
  if (parts.length !== 4) throw new Error("lookup failed: unexpected username format");
  if (parts[0] !== "system" || parts[1] !== "serviceaccount") throw new Error("lookup failed: username returned is not a service account");
  return { namespace: parts[2]!, name: parts[3]!, uid: typeof user.uid === "string" ? user.uid : "" };
}

function parseReview(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new Error("lookup failed: the TokenReview response is not a JSON object");
}
