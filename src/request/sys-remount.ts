import { randomUuid } from "../sdk/encoding.js";
import type { MountTable } from "../logical/mounts.js";
import { type HandlerResult, LogicalError, type Operation, unsupportedOperation } from "../sdk/types.js";

const STATUS_PREFIX = "sys/remount/status/";
/** Moves are remembered for sys/remount/status in this process only (as Vault, in memory); the newest few. */
const REMEMBERED_MOVES = 100;
const moves = new Map<string, { source_mount: string; target_mount: string; status: "success" }>();

/** sys/remount (POST from, to; needs sudo, as in Vault: see acl.ts) and sys/remount/status/:migration_id. */
export async function handleSysRemount(mounts: MountTable, path: string, operation: Operation, data: Record<string, unknown>): Promise<HandlerResult> {
  if (path.startsWith(STATUS_PREFIX)) {
    if (operation !== "read") throw unsupportedOperation(path, operation);
    const id = path.slice(STATUS_PREFIX.length);
    const info = moves.get(id);
    if (!info) throw new LogicalError(404, `no mount migration with id "${id}" is known to this node`);
    return { data: { migration_id: id, migration_info: info } };
  }
  if (operation !== "update" && operation !== "create") throw unsupportedOperation(path, operation);
  const { from, to } = data;
  if (typeof from !== "string" || from.trim() === "") throw new LogicalError(400, `"from" must be given: the mount path to move`);
  if (typeof to !== "string" || to.trim() === "") throw new LogicalError(400, `"to" must be given: the new mount path`);
  const moved = await mounts.move(from, to);
  const id = randomUuid();
  moves.set(id, { source_mount: moved.from, target_mount: moved.to, status: "success" });
  if (moves.size > REMEMBERED_MOVES) moves.delete(moves.keys().next().value!);
  return { data: { migration_id: id } };
}
