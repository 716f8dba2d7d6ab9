/**
 * The one rule for names that appear in request paths and are stored under a canonical form:
 * userpass usernames, AppRole role names and ACL policy names.
 *
 * - The canonical form is the lower-cased name (Vault treats these names case-insensitively).
 * - Whitespace, control characters and "/" are refused with a 400, never stripped: stripping would
 *   let " admin" or "admin/" reach the entry called "admin" under a path no policy names.
 * - The core rewrites a request's path to the canonical name *before* the ACL check (see
 *   canonical-path.ts), so the path a policy is checked against is the path that is stored. Handlers
 *   behind the ACL then insist on canonical names (`requireCanonicalName`) instead of canonicalising
 *   them again, so a request that skipped the rewrite fails closed.
 */
import { LogicalError } from "./types.js";

const FORBIDDEN = /[\s\p{Cc}/]/u;

/** The canonical form of `raw`; 400 when it is empty or holds whitespace, a control character or "/". */
export function canonicalName(raw: string, what: string): string {
  if (raw === "") throw new LogicalError(400, `missing ${what}`);
  if (FORBIDDEN.test(raw)) {
    throw new LogicalError(400, `invalid ${what} ${JSON.stringify(raw)}: whitespace, control characters and "/" are not allowed`);
  }
  return raw.toLowerCase();
}

/** `raw` itself when it is canonical; otherwise a 400 (nothing reads or writes a non-canonical name). */
export function requireCanonicalName(raw: string, what: string): string {
  const name = canonicalName(raw, what);
  if (name !== raw) throw new LogicalError(400, `${what} ${JSON.stringify(raw)} is not in canonical form: use ${JSON.stringify(name)}`);
  return name;
}
