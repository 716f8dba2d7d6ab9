import { durationSeconds, isPlainObject, parseFlag } from "../sdk/fields.js";
import { LogicalError } from "../sdk/types.js";

/** The device types Strongbox knows; the runtime adapter provides the sinks it can open. */
export const AUDIT_TYPES = ["file", "socket"] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

/** Options every device type takes (Vault's common audit options). */
export interface CommonAuditOptions {
  prefix: string;
  logRaw: boolean;
  hmacAccessor: boolean;
  elideListResponses: boolean;
}

export interface FileSinkOptions {
  /** A file path, "stdout" or "discard". */
  filePath: string;
  /** File mode for a file the device creates (octal, Vault's default 0600). */
  mode: number;
}

export interface SocketSinkOptions {
  address: string;
  socketType: "tcp" | "udp";
  writeTimeoutMs: number;
}

const DEFAULT_WRITE_TIMEOUT_MS = 2_000;

/** Keys each type accepts besides the common ones; anything else is refused so typos do not pass silently. */
const TYPE_KEYS: Record<AuditType, string[]> = {
  file: ["file_path", "path", "mode"],
  socket: ["address", "socket_type", "write_timeout"],
};
const COMMON_KEYS = ["format", "prefix", "log_raw", "hmac_accessor", "elide_list_responses", "fallback", "filter", "exclude"];

/** `options` of an enable request as Vault stores them: every value a string. */
export function auditOptions(type: string, value: unknown): Record<string, string> {
  if (!(AUDIT_TYPES as readonly string[]).includes(type)) {
    throw new LogicalError(400, `unknown audit device type ${JSON.stringify(type)} (Strongbox provides: ${AUDIT_TYPES.join(", ")})`);
  }
  if (value !== undefined && value !== null && !isPlainObject(value)) throw new LogicalError(400, `"options" must be an object`);
  const options: Record<string, string> = {};
  for (const [key, raw] of Object.entries(value ?? {})) {
    if (![...COMMON_KEYS, ...TYPE_KEYS[type as AuditType]].includes(key)) {
      throw new LogicalError(
        400,
        `unknown option ${JSON.stringify(key)} for audit device type "${type}" (allowed: ${[...TYPE_KEYS[type as AuditType], ...COMMON_KEYS.slice(0, 5)].join(", ")})`,
      );
    }
    if (typeof raw !== "string" && typeof raw !== "boolean" && typeof raw !== "number")
      throw new LogicalError(400, `option ${JSON.stringify(key)} must be a string`);
    options[key] = String(raw);
  }
  // The older "path" spelling of file_path is stored under Vault's current key.
  if (type === "file" && options.path !== undefined && options.file_path === undefined) options.file_path = options.path;
  delete options.path;
  // Validates now, so a device that cannot work is refused at enable time.
  commonOptions(options);
  if (type === "file") fileOptions(options);
  else socketOptions(options);
  return options;
}

export function commonOptions(options: Record<string, string>): CommonAuditOptions {
  const format = options.format ?? "json";
  if (format !== "json") throw new LogicalError(400, `unsupported audit format ${JSON.stringify(format)} (only "json")`);
  for (const key of ["fallback", "filter", "exclude"]) {
    if (options[key]) throw new LogicalError(400, `audit option ${JSON.stringify(key)} is not supported by Strongbox`);
  }
  return {
    prefix: options.prefix ?? "",
    logRaw: parseFlag("log_raw", options.log_raw) ?? false,
    hmacAccessor: parseFlag("hmac_accessor", options.hmac_accessor) ?? true,
    elideListResponses: parseFlag("elide_list_responses", options.elide_list_responses) ?? false,
  };
}

export function fileOptions(options: Record<string, string>): FileSinkOptions {
  const filePath = options.file_path ?? "";
  if (!filePath) throw new LogicalError(400, `"file_path" is required for a file audit device (a file path, "stdout" or "discard")`);
  if (filePath.includes("\0")) throw new LogicalError(400, `"file_path" must not contain a NUL character`);
  const modeText = options.mode ?? "0600";
  if (!/^0?[0-7]{3}$/.test(modeText)) throw new LogicalError(400, `invalid "mode" ${JSON.stringify(modeText)}: expected an octal file mode such as 0600`);
  const mode = Number.parseInt(modeText, 8);
  // As Vault ≥ 1.20.1 (CVE-2025-6000): an audit device must not be a way to make an executable file.
  if (mode & 0o111)
    throw new LogicalError(400, `invalid "mode" ${JSON.stringify(modeText)}: audit files cannot be executable (no execute bit; e.g. 0600 or 0644)`);
  return { filePath, mode };
}

export function socketOptions(options: Record<string, string>): SocketSinkOptions {
  const address = options.address ?? "";
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):\d{1,5}$/.test(address) || Number(address.slice(address.lastIndexOf(":") + 1)) > 65535) {
    throw new LogicalError(400, `"address" is required for a socket audit device, as host:port (got ${JSON.stringify(address)})`);
  }
  const socketType = options.socket_type ?? "tcp";
  if (socketType !== "tcp" && socketType !== "udp") throw new LogicalError(400, `invalid "socket_type" ${JSON.stringify(socketType)} (allowed: tcp, udp)`);
  const timeout = options.write_timeout === undefined ? undefined : durationSeconds(options.write_timeout);
  if (timeout !== undefined && timeout <= 0)
    throw new LogicalError(400, `invalid "write_timeout" ${JSON.stringify(options.write_timeout)}: expected a positive duration such as "2s"`);
  if (options.write_timeout !== undefined && timeout === undefined)
    throw new LogicalError(400, `invalid "write_timeout" ${JSON.stringify(options.write_timeout)}: expected a duration such as "2s"`);
  return { address, socketType, writeTimeoutMs: timeout === undefined ? DEFAULT_WRITE_TIMEOUT_MS : timeout * 1000 };
}
