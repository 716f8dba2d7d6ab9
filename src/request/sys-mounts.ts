import { effectiveMountTtls, type LeaseTtls } from "../sdk/lease-ttls.js";
import { describeMount, type MountTable } from "../logical/mounts.js";
import { type HandlerResult, LogicalError, type MountEntry, type Operation, unsupportedOperation } from "../sdk/types.js";

export const UI_MOUNTS_PREFIX = "sys/internal/ui/mounts/";

/** sys/mounts (list), sys/mounts/:path (enable, disable, read) and sys/mounts/:path/tune. */
export async function handleSysMounts(mounts: MountTable, path: string, operation: Operation, data: Record<string, unknown>): Promise<HandlerResult> {
  const mountPath = path.slice("sys/mounts".length).replace(/^\//, "");
  if (!mountPath) {
    if (operation !== "read") throw unsupportedOperation("sys/mounts", operation);
    const table: Record<string, unknown> = { "sys/": systemMountDescription() };
    for (const entry of mounts.entries()) table[entry.path] = describeMount(entry);
    return { data: table };
  }
  if (mountPath.endsWith("/tune")) {
    const target = mountPath.slice(0, -"/tune".length);
    if (operation === "read") return { data: tuneDescription(mounts.find(target).entry, mounts.leaseTtls) };
    await mounts.tune(target, data);
    return null;
  }
  switch (operation) {
    case "create":
    case "update":
      await mounts.enable(mountPath, data);
      return null;
    case "delete":
      await mounts.disable(mountPath);
      return null;
    case "read":
      return { data: describeMount(mounts.find(mountPath).entry) };
    default:
      throw unsupportedOperation(`sys/mounts/${mountPath}`, operation);
  }
}

/** sys/internal/ui/mounts/:path — what Vault's CLI asks to learn a path's mount and KV version. */
export function mountInfo(mounts: MountTable, path: string): HandlerResult {
  const target = path.slice(UI_MOUNTS_PREFIX.length);
  const route = mounts.route(target);
  if (!route) throw new LogicalError(400, `preflight capability check returned 403, please ensure client's policies grant access to path "${target}/"`);
  const { entry } = route.mounted;
  return { data: { ...describeMount(entry), path: entry.path } };
}

/** As Vault: the TTLs that apply, the system's where the mount sets none. */
function tuneDescription(entry: MountEntry, system: LeaseTtls): Record<string, unknown> {
  return { ...effectiveMountTtls(entry.config, system), description: entry.description, force_no_cache: false, options: entry.options };
}

function systemMountDescription(): Record<string, unknown> {
  return {
    accessor: "system",
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
    description: "system endpoints used for control, policy and debugging",
    local: false,
    options: null,
    seal_wrap: true,
    type: "system",
  };
}
