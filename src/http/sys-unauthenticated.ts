import type { Core, InitRequest } from "../core.js";
import { decodeKey } from "../sdk/encoding.js";
import type { Endpoint } from "../sdk/framework.js";
import { LogicalError } from "../sdk/types.js";
import type { NodeCall } from "./node-call.js";
import { VERSION } from "../sdk/version.js";
import { json } from "./respond.js";
import { encryptInitResult, initPgpKeys } from "./sys-init-pgp.js";
import { healthBody, leaderBody, NEVER_ACTIVE } from "./vault-shapes.js";

/** Endpoints Vault serves without a token, sealed or not, on any node: init, seal status, unseal, health, leader. */
export const UNAUTHENTICATED_ENDPOINTS: Endpoint<NodeCall, Response>[] = [
  {
    pattern: "sys/init",
    unauthenticated: true,
    operations: {
      read: async ({ core }) => json({ initialized: await core.initialized() }),
      update: async ({ core, body }) => {
        const request = initRequest(body);
        const pgp = await initPgpKeys(core, body, request);
        return json(await encryptInitResult(await core.initialize(request), pgp));
      },
    },
  },
  { pattern: "sys/seal-status", unauthenticated: true, operations: { read: async ({ core }) => json(await sealStatus(core)) } },
  { pattern: "sys/unseal", unauthenticated: true, operations: { update: unseal } },
  { pattern: "sys/health", unauthenticated: true, operations: { read: async ({ core, query, method }) => health(core, query, method === "HEAD") } },
  { pattern: "sys/leader", unauthenticated: true, operations: { read: async ({ core }) => json(await leader(core)) } },
];

async function unseal({ core, body }: NodeCall): Promise<Response> {
  if (body.migrate !== undefined && typeof body.migrate !== "boolean")
    throw new LogicalError(400, `"migrate" must be a boolean (got ${JSON.stringify(body.migrate)})`);
  if (body.reset === true) {
    core.resetUnseal();
  } else {
    if (typeof body.key !== "string" || body.key === "") {
      throw new LogicalError(400, "'key' must be specified in request body as JSON, or 'reset' set to true");
    }
    const share = decodeKey(body.key.trim());
    if (!share || share.length === 0) throw new LogicalError(400, "'key' must be a valid hex or base64 string");
    await core.submitUnsealKey(share, body.migrate === true);
  }
  return json(await sealStatus(core));
}

/** sys/leader: a standby answers from the lock record and the advertisement it reads through the barrier. */
async function leader(core: Core): Promise<Record<string, unknown>> {
  // Without HA there is nothing to look up, sealed or not (Vault's CLI relies on this answer).
  if (core.sealed && core.haEnabled) throw new LogicalError(503, "Vault is sealed");
  const view = await core.leader();
  const advertisement = view.advertisement;
  return leaderBody({
    haEnabled: core.haEnabled,
    isSelf: view.isSelf,
    activeTime: view.isSelf && advertisement ? advertisement.active_time : NEVER_ACTIVE,
    leaderAddress: advertisement?.api_addr ?? "",
    leaderClusterAddress: advertisement?.cluster_addr ?? "",
    performanceStandby: !view.isSelf && core.leadership?.servesReads === true,
  });
}

async function sealStatus(core: Core): Promise<Record<string, unknown>> {
  return { ...(await core.sealStatus()), version: VERSION, build_date: "" };
}

/** Which of the counts a seal needs (and whether they fit) is the seal's call, in Core.initialize. */
function initRequest(body: Record<string, unknown>): InitRequest {
  const request: InitRequest = {};
  for (const field of ["secret_shares", "secret_threshold", "recovery_shares", "recovery_threshold"] as const) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new LogicalError(400, `"${field}" must be an integer (got ${JSON.stringify(value)})`);
    }
    request[field] = value;
  }
  return request;
}

/**
 * Vault's health codes, overridable by query parameters so load balancers can choose. Answered from
 * memory only: a storage outage must not turn every standby unhealthy and get it replaced. A node
 * that has not yet heard from storage whether the cluster is initialised cannot be unsealed: it
 * answers as sealed, not as uninitialised (which load balancers are often told to accept).
 */
function health(core: Core, query: URLSearchParams, head: boolean): Response {
  const known = core.knownInitialized;
  const initialized = known === true;
  const code = (name: string, fallback: number) => {
    const value = Number(query.get(name));
    return query.has(name) && Number.isInteger(value) && value >= 100 && value <= 599 ? value : fallback;
  };
  const standby = initialized && !core.sealed && !core.isActive();
  // A standby that answers reads itself is Vault Enterprise's performance standby (code 473).
  const performanceStandby = standby && core.leadership?.servesReads === true;
  const flag = (name: string) => ["", "true", "1"].includes(query.get(name) ?? "false");
  const status =
    known === false
      ? code("uninitcode", 501)
      : !initialized || core.sealed
        ? code("sealedcode", 503)
        : core.draining
          ? code("drainingcode", 503)
          : performanceStandby && !flag("perfstandbyok")
            ? code("performancestandbycode", 473)
            : standby && !performanceStandby && !flag("standbyok")
              ? code("standbycode", 429)
              : code("activecode", 200);
  const body = {
    ...healthBody({ initialized, sealed: core.sealed, standby, performanceStandby, clusterId: initialized && !core.sealed ? core.clusterId : "" }),
    draining: core.draining,
  };
  return head ? new Response(null, { status }) : json(body, status);
}
