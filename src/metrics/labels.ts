import type { LogicalState } from "../logical/state.js";

/** The mount a request path falls under, as a metric label: "secret/", "auth/userpass/", "sys/", "auth/token/". */
export function mountLabel({ mounts, auths }: LogicalState, path: string): string {
  if (path.startsWith("sys/")) return "sys/";
  if (path.startsWith("auth/token/")) return "auth/token/";
  if (path.startsWith("identity/")) return "identity/";
  if (path.startsWith("auth/")) {
    const route = auths.route(path.slice("auth/".length));
    return route ? `auth/${route.mounted.entry.path}` : "unmatched";
  }
  // Unmatched paths share one label, so hostile paths cannot grow the series without bound.
  return mounts.route(path)?.mounted.entry.path ?? "unmatched";
}
