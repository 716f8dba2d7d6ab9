import { type LogicalResponse, LogicalError } from "./types.js";

/**
 * Vault answers a missing secret with 404 and `{"errors":[]}`. Convention shared with the HTTP
 * layer: a LogicalError whose message is empty renders as `errors: []`, not `[""]`. `body` adds
 * fields next to `errors` (KV v2 puts the version metadata of a deleted version in `data`).
 */
export function notFound(body?: Record<string, unknown>): LogicalError {
  return new LogicalError(404, "", body);
}

/** A list's keys; an empty one becomes Vault's 404 in the router, as for every LIST. */
export function listResponse(keys: string[]): LogicalResponse {
  return { data: { keys } };
}

/** Vault's HTTP layer lists `path/` even when the client asked for `path`. */
export function listPrefix(path: string): string {
  return path === "" || path.endsWith("/") ? path : `${path}/`;
}
