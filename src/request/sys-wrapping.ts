/** sys/wrapping/{wrap,unwrap,lookup,rewrap}: Vault's response-wrapping endpoints (logic in logical/wrapping.ts). */
import type { LogicalState } from "../logical/state.js";
import { type HandlerResult, type Operation, noHandler, unsupportedOperation } from "../sdk/types.js";
import { lookupWrapping, rewrap, unwrap, WRAP_PATH } from "../logical/wrapping.js";

const PREFIX = "sys/wrapping/";

interface WrappingRequest {
  operation: Operation;
  path: string;
  data: Record<string, unknown>;
  token: string;
}

/** The wrapping endpoints that may be served without a caller's token (see beforeAuthentication). */
export function isUnauthenticatedWrapping(path: string): boolean {
  return path === `${PREFIX}lookup` || path === `${PREFIX}unwrap`;
}

/**
 * What is served before the request's token is checked, as in Vault: a lookup (the wrapping token
 * is in the body; anyone holding it may ask), and an unwrap whose request token is the wrapping token
 * itself (its single use is spent by the unwrap). Returned unstarted, so it is audited first; null
 * for everything else.
 */
export function beforeAuthentication(state: LogicalState, request: WrappingRequest): (() => Promise<HandlerResult>) | null {
  const { path, data, token } = request;
  if (path === `${PREFIX}lookup`) {
    requireWrite(request);
    return () => lookupWrapping(state, bodyToken(data) ?? token);
  }
  if (path === `${PREFIX}unwrap` && bodyToken(data) === undefined && token !== "") {
    requireWrite(request);
    return () => unwrap(state, token);
  }
  return null;
}

/** The endpoints that need an authorised caller: wrap, rewrap, and unwrap of a token given in the body. */
export async function handleSysWrapping(state: LogicalState, request: WrappingRequest): Promise<HandlerResult> {
  requireWrite(request);
  const { path, data } = request;
  switch (path) {
    case WRAP_PATH:
      // The router wraps this response (with the default TTL when the request named none).
      return { data };
    case `${PREFIX}unwrap`:
      return unwrap(state, bodyToken(data));
    case `${PREFIX}rewrap`:
      return rewrap(state, bodyToken(data));
    default:
      throw noHandler(path);
  }
}

function requireWrite({ operation, path }: WrappingRequest): void {
  if (operation !== "update" && operation !== "create") throw unsupportedOperation(path, operation);
}

/** The wrapping token named in the body; undefined when absent or empty. */
function bodyToken(data: Record<string, unknown>): unknown {
  return data.token === "" || data.token === null ? undefined : data.token;
}
