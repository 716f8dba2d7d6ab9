import type { Logger } from "../sdk/logger.js";
import { type Metrics, noMetrics } from "../metrics/metrics.js";
import { stringifyJson } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import type { AuditEntry, AuditTable } from "./audit-table.js";
import { type AuditedRequest, requestEntry, responseEntry } from "./entries.js";
import { AuditHasher } from "./hashing.js";
import { type CommonAuditOptions, commonOptions, fileOptions, socketOptions } from "./options.js";
import type { AuditSink, AuditSinkOpeners } from "./sink.js";
import type { HandlerResult } from "../sdk/types.js";

interface OpenDevice {
  entry: AuditEntry;
  options: CommonAuditOptions;
  hasher: AuditHasher;
  sink: AuditSink;
}

/**
 * Sends each request's entries to every enabled device. The devices come from the audit table of
 * the node's current term (re-read when it becomes active); their sinks are opened on first use on
 * the node that handles requests, and closed when the table no longer names them.
 */
export class AuditBroker {
  readonly #openers: AuditSinkOpeners;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #open = new Map<string, Promise<OpenDevice>>();
  /** The server configuration's `allow_audit_log_prefixing`: without it, no device writes a `prefix`. */
  readonly #allowPrefixing: boolean;

  constructor(openers: AuditSinkOpeners, logger: Logger, metrics: Metrics = noMetrics, allowPrefixing = false) {
    this.#openers = openers;
    this.#logger = logger.named("audit");
    this.#metrics = metrics;
    this.#allowPrefixing = allowPrefixing;
  }

  /** No device enabled and none open to close: a request has nothing to write or tidy up (the common case, kept cheap). */
  idle(table: AuditTable): boolean {
    return table.size === 0 && this.#open.size === 0;
  }

  /** Opens a device being enabled, so one that cannot write is refused (400) before it is recorded. */
  async check(entry: AuditEntry): Promise<void> {
    const sink = this.#sink(entry);
    try {
      await sink.reopen();
    } catch (error) {
      await sink.close().catch(() => {});
      throw new LogicalError(400, `audit device ${entry.path} cannot write: ${(error as Error).message}`);
    }
    await sink.close();
  }

  /**
   * The request entry, before the operation. Fails closed: when devices are enabled and none
   * took the entry, the request is refused with a generic 500 (nothing about the devices leaks).
   */
  async logRequest(table: AuditTable, request: AuditedRequest, error?: string): Promise<void> {
    const { enabled, devices } = await this.#devices(table);
    if (enabled === 0) return;
    const written = await this.#writeAll(devices, "request", (device) => requestEntry(request, device.options, device.hasher, error));
    if (written === 0) {
      this.#metrics.increment("vault_audit_log_request_failure");
      throw new LogicalError(500, "internal error");
    }
  }

  /**
   * The response entry, after the operation. Fails closed as Vault does: when no device took it,
   * the client gets a generic 500 instead of an answer nobody recorded (the operation has happened).
   */
  async logResponse(table: AuditTable, request: AuditedRequest, result: HandlerResult, error?: string): Promise<void> {
    const { enabled, devices } = await this.#devices(table);
    if (enabled === 0) return;
    const written = await this.#writeAll(devices, "response", (device) => responseEntry(request, result, device.options, device.hasher, error));
    if (written === 0) {
      this.#metrics.increment("vault_audit_log_response_failure");
      throw new LogicalError(500, "internal error");
    }
  }

  /** sys/audit-hash: the device's HMAC of `input`. */
  async hash(table: AuditTable, entry: AuditEntry, input: string): Promise<string> {
    return (await AuditHasher.create(await table.salt(entry))).hash(input);
  }

  /** Log rotation (SIGHUP): every open sink reopens its file or connection. */
  async reopen(): Promise<void> {
    await Promise.all(
      [...this.#open.values()].map(async (opening) => {
        const device = await opening.catch(() => null);
        await device?.sink.reopen().catch((error: unknown) => {
          this.#logger.error("audit device could not reopen", { path: device.entry.path, error: (error as Error).message });
        });
      }),
    );
  }

  async #writeAll(devices: OpenDevice[], kind: string, build: (device: OpenDevice) => Promise<Record<string, unknown>>): Promise<number> {
    const results = await Promise.all(
      devices.map(async (device) => {
        try {
          await device.sink.write(device.options.prefix + stringifyJson(await build(device)));
          return true;
        } catch (error) {
          this.#logger.error(`audit device failed to write the ${kind} entry`, { path: device.entry.path, error: (error as Error).message });
          return false;
        }
      }),
    );
    return results.filter(Boolean).length;
  }

  /** The open devices of `table` (opening new ones, closing those no longer in it), and how many it names. */
  async #devices(table: AuditTable): Promise<{ enabled: number; devices: OpenDevice[] }> {
    const entries = table.entries();
    const live = new Set(entries.map((entry) => entry.uuid));
    for (const [uuid, opening] of this.#open) {
      if (live.has(uuid)) continue;
      this.#open.delete(uuid);
      void opening.then((device) => device.sink.close()).catch(() => {});
    }
    const devices = await Promise.allSettled(entries.map((entry) => this.#device(table, entry)));
    return { enabled: entries.length, devices: devices.flatMap((result) => (result.status === "fulfilled" ? [result.value] : [])) };
  }

  #device(table: AuditTable, entry: AuditEntry): Promise<OpenDevice> {
    let opening = this.#open.get(entry.uuid);
    if (!opening) {
      opening = (async () => ({
        entry,
        options: commonOptions(entry.options),
        hasher: await AuditHasher.create(await table.salt(entry)),
        sink: this.#sink(entry),
      }))();
      this.#open.set(entry.uuid, opening);
      // A device that could not be set up is tried again on the next request.
      opening.catch(() => this.#open.delete(entry.uuid));
    }
    return opening;
  }

  /** Checked when a device is enabled and whenever one is opened, so a stored device configured before the rules were tightened does not write either. */
  #sink(entry: AuditEntry): AuditSink {
    // As Vault ≥ 1.20.1 (CVE-2025-6000): a free-form text at the start of every line is the server operator's call, not an API caller's.
    if (entry.options.prefix && !this.#allowPrefixing) {
      throw new LogicalError(400, `audit log prefixing is not allowed: the "prefix" option needs allow_audit_log_prefixing = true in the server configuration`);
    }
    const openers = this.#openers;
    if (entry.type === "file" && openers.file) return openers.file(fileOptions(entry.options));
    if (entry.type === "socket" && openers.socket) return openers.socket(socketOptions(entry.options));
    throw new LogicalError(400, `audit device type "${entry.type}" is not available on this runtime`);
  }
}
