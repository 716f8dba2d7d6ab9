/**
 * Standby reads (`standby_reads = true`): a standby answers read-only requests itself, from storage
 * through the barrier, with the same router and ACL as the active; everything else is forwarded.
 *
 * Why no answer is stale: the storage backends are strongly consistent (DynamoDB reads with
 * ConsistentRead, S3 has read-after-write consistency) and the active acknowledges a write only
 * after storage has it. A standby read loads everything it uses — mount and auth tables,
 * policies, the token, the secret — from storage after the request arrived, with nothing kept
 * from earlier requests (the active's read cache never runs on a standby). So a read that begins
 * after a write was acknowledged, through any node, sees that write; a policy tightened on the
 * active applies to the next standby read.
 *
 * Why nothing is written twice or by two nodes: the standby's storage view refuses writes. A
 * request that turns out to need one (a token with a use limit, an expired token to revoke, a
 * default entry missing) stops before anything is written and is forwarded, so the active does
 * all of it once.
 */
import { loadLogicalState, type LogicalOptions } from "../logical/state.js";
import type { HandlerResult, Storage } from "../logical/types.js";
import { type CoreRequest, type Observability, Router } from "../request/router.js";

/** Thrown by the standby's storage view on any write: the request goes to the active instead. */
class WriteOnStandby extends Error {
  override name = "WriteOnStandby";
}

/** Read-only sys paths a standby may answer, besides reads and lists of secrets engines. */
const SYS_READS = [
  /^sys\/(mounts|auth)$/,
  /^sys\/internal\/ui\/mounts(\/.*)?$/,
  /^sys\/policy(\/[^/]+)?$/,
  /^sys\/policies\/acl(\/[^/]+)?$/,
];

/**
 * Whether a standby may try `request` itself. Writes never; the token's own lookup and
 * capabilities questions (a POST that changes nothing) yes; secrets engines' reads and lists.
 */
export function standbyMayServe({ operation, path }: Pick<CoreRequest, "operation" | "path">): boolean {
  if (operation === "update") return path === "sys/capabilities-self";
  if (operation !== "read" && operation !== "list") return false;
  if (path === "auth/token/lookup-self") return operation === "read";
  if (path.startsWith("auth/")) return false;
  if (path.startsWith("sys/")) return SYS_READS.some((pattern) => pattern.test(path));
  return true;
}

export class StandbyReads {
  readonly #storage: Storage;

  constructor(
    barrier: Storage,
    private readonly logical: LogicalOptions,
    /** The node's audit devices and metrics: a read answered here is audited here. */
    private readonly observability: Observability,
  ) {
    this.#storage = readOnly(barrier);
  }

  /** The answer, or undefined when the request must go to the active (it needs a write). */
  async serve(request: CoreRequest): Promise<HandlerResult | undefined> {
    if (!standbyMayServe(request)) return undefined;
    try {
      const state = await loadLogicalState(this.#storage, this.logical);
      const notHere = (): Promise<never> => Promise.reject(new WriteOnStandby());
      // Nothing is encrypted here, so there is nothing to count (and the count is the active's to persist).
      const keys = { countEncryptions: async () => {}, rotate: notHere, status: notHere };
      const router = new Router({ state: () => state, isActive: () => true, now: this.logical.now, seal: notHere, stepDown: notHere, haStatus: () => [], keys, observability: this.observability });
      return await router.handle(request);
    } catch (error) {
      if (error instanceof WriteOnStandby) return undefined;
      throw error;
    }
  }
}

function readOnly(storage: Storage): Storage {
  const refuse = (): Promise<never> => Promise.reject(new WriteOnStandby());
  return { get: (key) => storage.get(key), list: (prefix) => storage.list(prefix), put: refuse, delete: refuse };
}
