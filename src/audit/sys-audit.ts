import type { AuditTable } from "./audit-table.js";
import type { AuditBroker } from "./broker.js";
import { type HandlerResult, LogicalError, type Operation, unsupportedOperation } from "../sdk/types.js";

/** sys/audit (list), sys/audit/:path (enable, disable) and sys/audit-hash/:path. */
export async function handleSysAudit(
  table: AuditTable,
  broker: AuditBroker,
  path: string,
  operation: Operation,
  data: Record<string, unknown>,
): Promise<HandlerResult> {
  const isWrite = operation === "update" || operation === "create";
  if (path.startsWith("sys/audit-hash/")) {
    if (!isWrite) throw unsupportedOperation(path, operation);
    const entry = table.find(path.slice("sys/audit-hash/".length));
    if (!entry) throw new LogicalError(400, `unknown audit backend ${path.slice("sys/audit-hash/".length)}`);
    if (typeof data.input !== "string") throw new LogicalError(400, `"input" is required and must be a string`);
    return { data: { hash: await broker.hash(table, entry, data.input) } };
  }
  const devicePath = path.slice("sys/audit".length).replace(/^\//, "");
  if (!devicePath) {
    if (operation !== "read") throw unsupportedOperation(path, operation);
    const devices: Record<string, unknown> = {};
    for (const entry of table.entries()) {
      devices[entry.path] = { type: entry.type, description: entry.description, options: entry.options, local: entry.local, path: entry.path };
    }
    return { data: devices };
  }
  if (isWrite) {
    await table.enable(devicePath, data, (entry) => broker.check(entry));
    return null;
  }
  if (operation === "delete") {
    await table.disable(devicePath);
    return null;
  }
  throw unsupportedOperation(path, operation);
}
