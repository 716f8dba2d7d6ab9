/**
 * Vault's response wrapping: instead of a response, the client gets a single-use token whose
 * cubbyhole holds the response (at `response`, as Vault keeps it) until the token is unwrapped or
 * expires. Wrapping tokens carry only the `response-wrapping` policy and cannot have children
 * (a limited-use token cannot create tokens).
 */
import { parseNonNegativeDuration } from "../sdk/fields.js";
import { decodeJson, rfc3339, stringifyJson } from "../sdk/encoding.js";
import type { LogicalState } from "./state.js";
import { VAULT_LEASE_TTLS } from "../sdk/lease-ttls.js";
import type { TokenEntry } from "./token-store.js";
import { type LogicalResponse, LogicalError } from "../sdk/types.js";

export const RESPONSE_WRAPPING_POLICY = "response-wrapping";

/** Where a wrapping token's cubbyhole keeps the wrapped response. */
const RESPONSE_KEY = "response";

/** sys/wrapping/wrap without an X-Vault-Wrap-TTL header wraps for this long (as Vault's CLI default). */
const DEFAULT_WRAP_TTL_SECONDS = 300;

export const WRAP_PATH = "sys/wrapping/wrap";

/**
 * The wrap TTL a request asks for with X-Vault-Wrap-TTL (seconds or a duration such as "5m"):
 * undefined when absent or zero (no wrapping), 400 when negative or not a duration, capped at the
 * system's maximum lease TTL.
 */
export function requestedWrapTtl(path: string, header: string | undefined): number | undefined {
  const seconds = header === undefined ? undefined : parseNonNegativeDuration("X-Vault-Wrap-TTL", header);
  if (seconds) return Math.min(seconds, VAULT_LEASE_TTLS.maxSeconds);
  return path === WRAP_PATH ? DEFAULT_WRAP_TTL_SECONDS : undefined;
}

export function wrappingTokenNotValid(): LogicalError {
  return new LogicalError(400, "wrapping token is not valid or does not exist");
}

/** Stores `response` in a new wrapping token's cubbyhole and answers with that token's `wrap_info`. */
export async function wrapResponse(state: LogicalState, response: LogicalResponse, ttl: number, creationPath: string): Promise<LogicalResponse> {
  const { tokens, cubbyhole } = state;
  const { token, entry } = await tokens.create({
    policies: [RESPONSE_WRAPPING_POLICY],
    ttl,
    explicit_max_ttl: ttl,
    num_uses: 1,
    renewable: false,
    orphan: true,
    path: creationPath,
    display_name: "response-wrapping",
    response_wrapping: true,
  });
  await cubbyhole.write(await tokens.hash(token), RESPONSE_KEY, { response: stringifyJson(response) });
  const wrappedAccessor = typeof response.auth?.accessor === "string" ? response.auth.accessor : undefined;
  return {
    wrap_info: {
      token,
      accessor: entry.accessor,
      ttl: entry.creation_ttl,
      creation_time: rfc3339(new Date(entry.creation_time * 1000)),
      creation_path: creationPath,
      ...(wrappedAccessor && { wrapped_accessor: wrappedAccessor }),
    },
  };
}

type WrappingEntry = TokenEntry & { hash: string };

/**
 * The live wrapping token `token`, or Vault's 400 when it is unknown, used, expired or not a wrapping
 * token: one made by wrapResponse, not merely one carrying the `response-wrapping` policy.
 */
async function wrappingEntry({ tokens }: LogicalState, token: unknown): Promise<WrappingEntry> {
  if (typeof token !== "string" || token === "") throw wrappingTokenNotValid();
  const entry = await tokens.lookup(token);
  if (!entry?.response_wrapping || entry.policies.length !== 1 || entry.policies[0] !== RESPONSE_WRAPPING_POLICY) throw wrappingTokenNotValid();
  return entry;
}

/**
 * The wrapped response, once: the token's single use is spent under its lock (a concurrent
 * unwrap of the same token gets the 400), and the token and its cubbyhole are revoked.
 */
export async function unwrap(state: LogicalState, token: unknown): Promise<LogicalResponse> {
  const entry = await wrappingEntry(state, token);
  try {
    await state.tokens.use(entry);
  } catch {
    throw wrappingTokenNotValid();
  }
  try {
    const stored = await state.cubbyhole.read(entry.hash, RESPONSE_KEY);
    if (!stored || typeof stored.response !== "string") throw wrappingTokenNotValid();
    return decodeJson<LogicalResponse>(new TextEncoder().encode(stored.response));
  } finally {
    await state.tokens.revoke(entry);
  }
}

/** sys/wrapping/lookup: when and where the token was made and for how long; does not spend it. */
export async function lookupWrapping(state: LogicalState, token: unknown): Promise<LogicalResponse> {
  const entry = await wrappingEntry(state, token);
  return {
    data: {
      creation_path: entry.path,
      creation_time: rfc3339(new Date(entry.creation_time * 1000)),
      creation_ttl: entry.creation_ttl,
    },
  };
}

/** sys/wrapping/rewrap: the same response in a new wrapping token with the old one's TTL and path; the old one is spent. */
export async function rewrap(state: LogicalState, token: unknown): Promise<LogicalResponse> {
  const entry = await wrappingEntry(state, token);
  const response = await unwrap(state, token);
  return wrapResponse(state, response, entry.creation_ttl, entry.path);
}
