import type { Core } from "../core.js";
import type { Logger } from "../sdk/logger.js";
import type { CoreRequest, Operation } from "../sdk/types.js";

/** What a node-level endpoint (node-endpoints.ts) is given: the request as received, and the node. */
export interface NodeCall {
  operation: Operation;
  path: string;
  /** The HTTP method (HEAD is answered without a body). */
  method: string;
  query: URLSearchParams;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  /** The request as the core audits it. */
  request: CoreRequest;
  core: Core;
  logger: Logger;
}
