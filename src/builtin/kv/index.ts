import { type EngineContext, type MountEntry, type SecretsEngine, LogicalError } from "../../sdk/types.js";
import { createKvV1, kvV1 } from "./v1.js";
import { kvV2 } from "./v2.js";

export { createKvV1, kvV1 } from "./v1.js";
export { createKvV2, kvV2, type KvV2Options } from "./v2.js";

/**
 * The KV engine for a mount: type "kv-v2", or type "kv" with `options.version` "2", is versioned;
 * type "kv" without a version (or "1") is KV v1, as in Vault (with a context, the system TTLs it reports).
 */
export function kvEngine(mount: MountEntry, context?: EngineContext): SecretsEngine {
  const version = mount.type === "kv-v2" ? "2" : (mount.options.version ?? "1");
  switch (version) {
    case "":
    case "1":
      return context ? createKvV1(context.leaseTtls) : kvV1;
    case "2":
      return kvV2;
    default:
      throw new LogicalError(400, `invalid kv version "${version}": must be 1 or 2`);
  }
}
