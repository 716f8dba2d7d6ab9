import { formatTime } from "../sdk/fields.js";
import type { TokenEntry } from "../logical/token-store.js";
import type { HandlerResult, Operation } from "../sdk/types.js";
import type { CommonAuditOptions } from "./options.js";
import type { AuditHasher } from "./hashing.js";

/** What one audited request is: filled in by the router as it learns it. */
export interface AuditedRequest {
  id: string;
  operation: Operation;
  path: string;
  data: Record<string, unknown>;
  /** The client token as sent ("" when none). */
  token: string;
  clientAddress?: string;
  clientPort?: number;
  mount: { type: string; accessor: string };
  /** The token's entry, once authenticated. */
  caller: TokenEntry | null;
}

/** Keys of response data that stay readable when accessors are not HMAC'd. */
const ACCESSOR_KEYS: ReadonlySet<string> = new Set(["accessor"]);

/**
 * Vault's JSON audit entries: one `request` entry before the operation, one `response` entry after.
 * Every secret string goes through the device's hasher unless the device logs raw.
 */
export async function requestEntry(
  request: AuditedRequest,
  options: CommonAuditOptions,
  hasher: AuditHasher,
  error?: string,
): Promise<Record<string, unknown>> {
  const hash = hashing(options, hasher);
  return {
    time: formatTime(Date.now()),
    type: "request",
    auth: authBlock(request.caller, request.token, hash),
    request: await requestBlock(request, hash),
    ...(error ? { error } : {}),
  };
}

export async function responseEntry(
  request: AuditedRequest,
  result: HandlerResult,
  options: CommonAuditOptions,
  hasher: AuditHasher,
  error?: string,
): Promise<Record<string, unknown>> {
  const hash = hashing(options, hasher);
  return {
    time: formatTime(Date.now()),
    type: "response",
    auth: authBlock(request.caller, request.token, hash),
    request: await requestBlock(request, hash),
    response: await responseBlock(request, result, options, hash),
    ...(error ? { error } : {}),
  };
}

interface Hashing {
  secret(value: string | undefined): string | undefined;
  accessor(value: string | undefined): string | undefined;
  leaves(value: unknown): Promise<unknown>;
}

function hashing(options: CommonAuditOptions, hasher: AuditHasher): Hashing {
  if (options.logRaw) return { secret: (v) => v, accessor: (v) => v, leaves: async (v) => v };
  return {
    secret: (v) => hasher.hashOptional(v),
    accessor: (v) => (options.hmacAccessor ? hasher.hashOptional(v) : v),
    leaves: (v) => hasher.hashLeaves(v, options.hmacAccessor ? undefined : ACCESSOR_KEYS),
  };
}

function authBlock(caller: TokenEntry | null, token: string, hash: Hashing): Record<string, unknown> {
  if (!caller) return { client_token: hash.secret(token), token_type: "default", token_ttl: 0 };
  return {
    client_token: hash.secret(token),
    accessor: hash.accessor(caller.accessor),
    display_name: caller.display_name,
    policies: caller.policies,
    token_policies: caller.policies,
    metadata: caller.meta,
    entity_id: "",
    token_type: "service",
    token_ttl: caller.creation_ttl,
    token_issue_time: formatTime(caller.creation_time * 1000),
  };
}

async function requestBlock(request: AuditedRequest, hash: Hashing): Promise<Record<string, unknown>> {
  return {
    id: request.id,
    operation: request.operation,
    mount_type: request.mount.type,
    mount_accessor: request.mount.accessor,
    client_token: hash.secret(request.token),
    client_token_accessor: hash.accessor(request.caller?.accessor),
    namespace: { id: "root" },
    path: request.path,
    data: Object.keys(request.data).length > 0 ? await hash.leaves(request.data) : null,
    remote_address: request.clientAddress ?? "",
    remote_port: request.clientPort ?? 0,
  };
}

async function responseBlock(request: AuditedRequest, result: HandlerResult, options: CommonAuditOptions, hash: Hashing): Promise<Record<string, unknown>> {
  const block: Record<string, unknown> = { mount_type: request.mount.type, mount_accessor: request.mount.accessor };
  if (!result) return block;
  if (result.auth) {
    const { client_token, accessor, ...rest } = result.auth as { client_token?: string; accessor?: string };
    block.auth = { ...rest, client_token: hash.secret(client_token), accessor: hash.accessor(accessor) };
  }
  if (result.lease_id) block.secret = { lease_id: result.lease_id };
  if (result.data) {
    const data = options.elideListResponses && request.operation === "list" ? elideList(result.data) : result.data;
    block.data = await hash.leaves(data);
  }
  if (result.warnings?.length) block.warnings = result.warnings;
  return block;
}

/** Vault's `elide_list_responses`: a list's keys become their count. */
function elideList(data: Record<string, unknown>): Record<string, unknown> {
  const elided = { ...data };
  if (Array.isArray(data.keys)) elided.keys = data.keys.length;
  if (data.key_info && typeof data.key_info === "object") elided.key_info = Object.keys(data.key_info).length;
  return elided;
}
