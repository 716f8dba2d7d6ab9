/**
 * KV version 1: one unversioned JSON object per path, stored as-is. Mirrors Vault's passthrough
 * backend: writes answer 204, deletes of missing paths succeed, reads of missing paths are 404.
 */

import { type HandlerResult, type LogicalRequest, type SecretsEngine, LogicalError } from "../../sdk/types.js";
import { durationSeconds, isPlainObject } from "../../sdk/fields.js";
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { effectiveMountTtls, type LeaseTtls, VAULT_LEASE_TTLS } from "../../sdk/lease-ttls.js";
import { listPrefix, listResponse, notFound } from "../../sdk/responses.js";
import { unsupportedOperation } from "../../sdk/types.js";

/** KV v1; `leaseTtls.defaultSeconds` is the lease shown when neither the mount nor the secret sets one. */
export function createKvV1(leaseTtls: LeaseTtls): SecretsEngine {
  return {
    handle: (request) => handle(request, leaseTtls),
    exists: async ({ storage, path }) => (await storage.get(path)) !== null,
  };
}

export const kvV1 = createKvV1(VAULT_LEASE_TTLS);

async function handle(request: LogicalRequest, leaseTtls: LeaseTtls): Promise<HandlerResult> {
  switch (request.operation) {
    case "read":
      return read(request, leaseTtls);
    case "create":
    case "update":
      return write(request);
    case "delete":
      await request.storage.delete(request.path);
      return null;
    case "list":
      return listResponse(await request.storage.list(listPrefix(request.path)));
    case "patch":
      throw unsupportedOperation();
  }
}

async function read({ storage, path, mount }: LogicalRequest, leaseTtls: LeaseTtls): Promise<HandlerResult> {
  const bytes = await storage.get(path);
  if (!bytes) throw notFound();
  const data = decodeJson<Record<string, unknown>>(bytes);
  // A "ttl" (or legacy "lease") field is only a hint to readers about when to re-read.
  const hint = durationSeconds(data.ttl ?? data.lease);
  const leaseSeconds = hint ?? effectiveMountTtls(mount.config, leaseTtls).default_lease_ttl;
  return { data, lease_duration: leaseSeconds, renewable: false };
}

async function write({ storage, path, data }: LogicalRequest): Promise<HandlerResult> {
  if (path === "") throw new LogicalError(400, "missing path");
  // A key ending in '/' would be indistinguishable from a folder when listing.
  if (path.endsWith("/")) throw new LogicalError(400, `invalid path "${path}": must not end with '/'`);
  if (!isPlainObject(data) || Object.keys(data).length === 0) {
    throw new LogicalError(400, "missing data fields");
  }
  await storage.put(path, encodeJson(data));
  return null;
}
