import { decodeJson, encodeJson, randomBase62, randomUuid } from "../sdk/encoding.js";
import { normaliseMountPath } from "../logical/mounts.js";
import { LogicalError, type Storage } from "../sdk/types.js";
import { auditOptions } from "./options.js";

/** Behind the barrier, beside the mount table. */
const AUDIT_TABLE_KEY = "core/audit";
/** Each device's HMAC salt, created at enable time, keyed by the device's uuid. */
const SALT_PREFIX = "sys/audit-salt/";

export interface AuditEntry {
  /** "name/" form, as mount paths. */
  path: string;
  type: string;
  description: string;
  options: Record<string, string>;
  local: boolean;
  uuid: string;
  accessor: string;
}

/** The enabled audit devices (Vault's audit table) and their salts, kept in the barrier. */
export class AuditTable {
  readonly #barrier: Storage;
  #entries: AuditEntry[];

  private constructor(barrier: Storage, entries: AuditEntry[]) {
    this.#barrier = barrier;
    this.#entries = entries;
  }

  static async load(barrier: Storage): Promise<AuditTable> {
    const bytes = await barrier.get(AUDIT_TABLE_KEY);
    return new AuditTable(barrier, bytes ? decodeJson<AuditEntry[]>(bytes) : []);
  }

  /** How many devices are enabled. */
  get size(): number {
    return this.#entries.length;
  }

  entries(): AuditEntry[] {
    return [...this.#entries];
  }

  find(rawPath: string): AuditEntry | undefined {
    const path = normaliseMountPath(rawPath);
    return this.#entries.find((entry) => entry.path === path);
  }

  /** Validates and records a device; `check` opens it first so a device that cannot write is refused. */
  async enable(rawPath: string, data: Record<string, unknown>, check: (entry: AuditEntry) => Promise<void>): Promise<void> {
    const path = normaliseMountPath(rawPath);
    if (!path) throw new LogicalError(400, "audit device path cannot be empty");
    if (this.find(path)) throw new LogicalError(400, `path already in use: an audit device is enabled at "${path}"`);
    const type = typeof data.type === "string" ? data.type : "";
    if (!type) throw new LogicalError(400, `"type" is required (file or socket)`);
    if (data.description !== undefined && typeof data.description !== "string") throw new LogicalError(400, `"description" must be a string`);
    if (data.local !== undefined && typeof data.local !== "boolean") throw new LogicalError(400, `"local" must be true or false`);
    const entry: AuditEntry = {
      path,
      type,
      description: (data.description as string | undefined) ?? "",
      options: auditOptions(type, data.options),
      local: data.local === true,
      uuid: randomUuid(),
      accessor: `audit_${randomBase62(8).toLowerCase()}`,
    };
    await check(entry);
    await this.#barrier.put(SALT_PREFIX + entry.uuid, crypto.getRandomValues(new Uint8Array(32)));
    this.#entries = [...this.#entries, entry];
    await this.#persist();
  }

  /** Disabling a path with no device succeeds, as in Vault. */
  async disable(rawPath: string): Promise<void> {
    const entry = this.find(rawPath);
    if (!entry) return;
    this.#entries = this.#entries.filter((e) => e !== entry);
    await this.#persist();
    await this.#barrier.delete(SALT_PREFIX + entry.uuid);
  }

  async salt(entry: AuditEntry): Promise<Uint8Array> {
    const salt = await this.#barrier.get(SALT_PREFIX + entry.uuid);
    if (!salt) throw new Error(`audit device ${entry.path} has no salt`);
    return salt;
  }

  async #persist(): Promise<void> {
    await this.#barrier.put(AUDIT_TABLE_KEY, encodeJson(this.#entries));
  }
}
