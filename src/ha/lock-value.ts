/**
 * The HA lock record's value: only public facts (the holder's node id and api_addr), so the edge
 * Worker can redirect without any secret. The core writes it and reads it; the edge reads it.
 */

/** The HA lock's key. */
export const LOCK_KEY = "core/lock";

export interface LockValue {
  id: string;
  apiAddr: URL;
}

export function encodeLockValue(id: string, apiAddr: string): string {
  return JSON.stringify({ id, api_addr: apiAddr });
}

/** The holder's id and api_addr, or null unless the value is `{"id","api_addr"}` with a plain http(s) URL. */
export function parseLockValue(value: string): LockValue | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const { id, api_addr } = (parsed ?? {}) as { id?: unknown; api_addr?: unknown };
  if (typeof id !== "string" || id === "" || typeof api_addr !== "string") return null;
  let apiAddr: URL;
  try {
    apiAddr = new URL(api_addr);
  } catch {
    return null;
  }
  const plain = (apiAddr.protocol === "https:" || apiAddr.protocol === "http:") && apiAddr.hostname !== "" && !apiAddr.username && !apiAddr.password;
  return plain ? { id, apiAddr } : null;
}
