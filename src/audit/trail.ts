import type { LogicalState } from "../logical/state.js";
import type { NodeState } from "./node-state.js";
import type { TokenEntry } from "../logical/token-store.js";
import { type HandlerResult, LogicalError, type Operation } from "../sdk/types.js";
import type { AuditBroker } from "./broker.js";
import type { AuditedRequest } from "./entries.js";

/** What the router knows of a request when it starts auditing it. */
export interface TrailRequest {
  operation: Operation;
  path: string;
  data: Record<string, unknown>;
  token: string;
  clientAddress?: string;
  clientPort?: number;
}

/**
 * One request's audit trail, kept by the router: the request entry once the caller is known (and
 * before anything is done), the response entry after. A request refused before its request entry
 * (invalid token, permission denied) gets a request entry carrying the error, as Vault logs it.
 */
export class AuditTrail {
  readonly #broker: AuditBroker;
  readonly #state: NodeState;
  readonly #request: TrailRequest;
  #caller: TokenEntry | null = null;
  /** The entries' view of the request, built on first use: with no device enabled, never. */
  #audited: AuditedRequest | null = null;
  #requestAttempted = false;
  /** The devices refused an entry: the resulting error cannot be recorded either. */
  #refusedByDevices = false;

  constructor(broker: AuditBroker, state: NodeState, request: TrailRequest) {
    this.#broker = broker;
    this.#state = state;
    this.#request = request;
  }

  /** The authenticated caller, for the entries' auth block. */
  identify(caller: TokenEntry): void {
    this.#caller = caller;
    if (this.#audited) this.#audited.caller = caller;
  }

  /** Before the operation; throws (500) when no enabled device took the entry. */
  async beforeOperation(): Promise<void> {
    this.#requestAttempted = true;
    if (this.#broker.idle(this.#state.audit)) return;
    try {
      await this.#broker.logRequest(this.#state.audit, this.#entryRequest());
    } catch (error) {
      this.#refusedByDevices = true;
      throw error;
    }
  }

  /** After the operation; throws (500) when no enabled device took the entry. */
  async afterOperation(result: HandlerResult): Promise<void> {
    if (this.#broker.idle(this.#state.audit)) return;
    try {
      await this.#broker.logResponse(this.#state.audit, this.#entryRequest(), result);
    } catch (error) {
      this.#refusedByDevices = true;
      throw error;
    }
  }

  /** The request failed: its error goes in the response entry, or in the request entry if none was written. */
  async failed(error: unknown): Promise<void> {
    if (this.#refusedByDevices || this.#broker.idle(this.#state.audit)) return;
    const message = error instanceof LogicalError && error.status < 500 ? error.message : "internal error";
    if (this.#requestAttempted) {
      await this.#broker.logResponse(this.#state.audit, this.#entryRequest(), null, message);
      return;
    }
    this.#requestAttempted = true;
    // Refused anyway: a device failing to record the refusal changes nothing for the client.
    await this.#broker.logRequest(this.#state.audit, this.#entryRequest(), message).catch(() => {});
  }

  #entryRequest(): AuditedRequest {
    this.#audited ??= { ...this.#request, id: crypto.randomUUID(), mount: mountOf(this.#state, this.#request.path), caller: this.#caller };
    return this.#audited;
  }
}

/** The mount serving `path`, as the entries name it (Vault's mount_type and mount_accessor). */
function mountOf({ mounts, auths }: LogicalState, path: string): { type: string; accessor: string } {
  if (path.startsWith("sys/")) return { type: "system", accessor: "system" };
  if (path.startsWith("auth/token/")) {
    const token = auths.entries().find((entry) => entry.type === "token");
    return { type: "token", accessor: token?.accessor ?? "" };
  }
  const entry = path.startsWith("auth/") ? auths.route(path.slice("auth/".length))?.mounted.entry : mounts.route(path)?.mounted.entry;
  return entry ? { type: entry.type, accessor: entry.accessor } : { type: "", accessor: "" };
}
