/**
 * KV version 1: one unversioned JSON object per path, stored as-is. Mirrors Vault's passthrough
 * backend: writes answer 204, deletes of missing paths succeed, reads of missing paths are 404.
 */

import { type HandlerResult, type LogicalRequest, type SecretsEngine, LogicalError } from "../types.js";
import { durationSeconds, isPlainObject } from "../fields.js";
import { decodeJson, encodeJson } from "../encoding.js";
import { listPrefix, listResponse, notFound, unsupportedOperation } from "./responses.js";

/** Vault's system default lease TTL (768h), shown when neither the mount nor the secret sets one. */
export const SYSTEM_DEFAULT_LEASE_SECONDS = 2_764_800;

export const kvV1: SecretsEngine = {
  async handle(request: LogicalRequest): Promise<HandlerResult> {
    switch (request.operation) {
      case "read":
        return read(request);
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
  },

  async exists({ storage, path }: LogicalRequest): Promise<boolean> {
    return (await storage.get(path)) !== null;
  },
};

async function read({ storage, path, mount }: LogicalRequest): Promise<HandlerResult> {
  const bytes = await storage.get(path);
  if (!bytes) throw notFound();
  const data = decodeJson<Record<string, unknown>>(bytes);
  // A "ttl" (or legacy "lease") field is only a hint to readers about when to re-read.
  const hint = durationSeconds(data.ttl ?? data.lease);
  const leaseSeconds = hint ?? (mount.config.default_lease_ttl || SYSTEM_DEFAULT_LEASE_SECONDS);
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
