/**
 * `tidy` and `tidy-status`: removing certificates (and revocations) that expired more than
 * `safety_buffer` ago, as Vault does, in the background on the node that received the request
 * (the active: `tidy-status` is not answered by standbys, its state lives in this node's memory).
 */
import { fromBase64, stringifyJson } from "../../sdk/encoding.js";
import { formatTime, parseFlag, parseNonNegativeDuration } from "../../sdk/fields.js";
import type { Endpoint } from "../../sdk/framework.js";
import { type LogicalRequest, LogicalError, type LogicalResponse } from "../../sdk/types.js";
import { parseCertificate } from "./certs.js";
import { rebuildAllCrls } from "./crl.js";
import { PkiStore } from "./store.js";

interface TidyStatus {
  safety_buffer: number | null;
  tidy_cert_store: boolean | null;
  tidy_revoked_certs: boolean | null;
  tidy_revoked_cert_issuer_associations: boolean | null;
  tidy_expired_issuers: boolean | null;
  pause_duration: string | null;
  state: "Inactive" | "Running" | "Finished" | "Error";
  error: string | null;
  time_started: string | null;
  time_finished: string | null;
  message: string | null;
  cert_store_deleted_count: number;
  revoked_cert_deleted_count: number;
  missing_issuer_cert_count: number;
}

const INACTIVE: TidyStatus = {
  safety_buffer: null,
  tidy_cert_store: null,
  tidy_revoked_certs: null,
  tidy_revoked_cert_issuer_associations: null,
  tidy_expired_issuers: null,
  pause_duration: null,
  state: "Inactive",
  error: null,
  time_started: null,
  time_finished: null,
  message: null,
  cert_store_deleted_count: 0,
  revoked_cert_deleted_count: 0,
  missing_issuer_cert_count: 0,
};

/** Vault's 202 answer: its response envelope as a raw JSON body (logical.RespondWithStatusCode). */
function accepted(warnings: string[]): LogicalResponse {
  const envelope = { request_id: "", lease_id: "", renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings, auth: null };
  return { raw: true, data: { http_content_type: "application/json", http_status_code: 202, http_raw_body: stringifyJson(envelope) } };
}

/** One mount's tidy: its status, and the run under way (one at a time). */
export function tidyEndpoints(): Endpoint<LogicalRequest>[] {
  let status: TidyStatus = { ...INACTIVE };

  async function run(store: PkiStore, mountId: string, safetyBufferMs: number): Promise<void> {
    const cutoff = Date.now() - safetyBufferMs;
    let rebuild = false;
    if (status.tidy_cert_store) {
      for (const serial of await store.storage.list("certs/")) {
        const entry = await store.cert(serial);
        if (!entry || parseCertificate(fromBase64(entry.certificate)).notAfter.getTime() < cutoff) {
          await store.storage.delete(`certs/${serial}`);
          status.cert_store_deleted_count++;
        }
      }
    }
    if (status.tidy_revoked_certs || status.tidy_revoked_cert_issuer_associations) {
      const issuerIds = new Set(await store.issuerIds());
      for (const serial of await store.storage.list("revoked/")) {
        const entry = await store.revoked(serial);
        if (!entry) continue;
        if (!issuerIds.has(entry.issuer_id)) status.missing_issuer_cert_count++;
        if (status.tidy_revoked_certs && parseCertificate(fromBase64(entry.certificate)).notAfter.getTime() < cutoff) {
          await store.storage.delete(`revoked/${serial}`);
          await store.storage.delete(`certs/${serial}`);
          status.revoked_cert_deleted_count++;
          rebuild = true;
        }
      }
    }
    if (rebuild) await rebuildAllCrls(store, mountId);
  }

  return [
    {
      pattern: "tidy",
      operations: {
        update: async ({ storage, data, mount }) => {
          const safetyBuffer = parseNonNegativeDuration("safety_buffer", data.safety_buffer) ?? 72 * 3600;
          if (safetyBuffer <= 0) throw new LogicalError(400, "safety_buffer must be greater than zero");
          const options = {
            tidy_cert_store: parseFlag("tidy_cert_store", data.tidy_cert_store) ?? false,
            tidy_revoked_certs: parseFlag("tidy_revoked_certs", data.tidy_revoked_certs) ?? false,
            tidy_revoked_cert_issuer_associations: parseFlag("tidy_revoked_cert_issuer_associations", data.tidy_revoked_cert_issuer_associations) ?? false,
            tidy_expired_issuers: parseFlag("tidy_expired_issuers", data.tidy_expired_issuers) ?? false,
          };
          if (!Object.values(options).some(Boolean)) {
            return accepted([
              "Manual tidy requested but no tidy operations were set. Enable at least one tidy operation to be run (tidy_cert_store, tidy_revoked_certs, tidy_revoked_cert_issuer_associations, tidy_expired_issuers).",
            ]);
          }
          if (status.state === "Running") return accepted(["Tidy operation already in progress."]);
          status = { ...INACTIVE, ...options, safety_buffer: safetyBuffer, pause_duration: "0s", state: "Running", time_started: formatTime(Date.now()) };
          const store = new PkiStore(storage);
          run(store, mount.uuid, safetyBuffer * 1000).then(
            () => {
              status = {
                ...status,
                state: "Finished",
                time_finished: formatTime(Date.now()),
                message: "Tidying of certificate store and revoked certificates complete",
              };
            },
            (error: unknown) => {
              status = { ...status, state: "Error", error: error instanceof Error ? error.message : String(error), time_finished: formatTime(Date.now()) };
            },
          );
          return accepted(["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."]);
        },
      },
    },
    { pattern: "tidy-status", standby: false, operations: { read: async () => ({ data: { ...status } }) } },
  ];
}
