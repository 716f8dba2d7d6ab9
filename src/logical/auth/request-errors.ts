/** Vault's wording for requests an auth method cannot route, naming the full API path. */
import { LogicalError, unsupportedOperation } from "../../sdk/types.js";
import type { AuthRequest } from "./types.js";

export function noRoute({ mount, path }: AuthRequest): LogicalError {
  return new LogicalError(404, `no handler for route "auth/${mount.path}${path}". route entry not found.`);
}

export function unsupportedAuthOperation({ mount, path, operation }: AuthRequest): LogicalError {
  return unsupportedOperation(`auth/${mount.path}${path}`, operation);
}
