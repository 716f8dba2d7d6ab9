import type { Backend } from "./backend.js";
import { InmemBackend } from "./inmem.js";

export { isHABackend } from "./ha.js";

/** How a `storage "<type>"` stanza becomes a Backend. `ha`: whether the type can hold the HA lock. */
export interface BackendFactory {
  ha: boolean;
  create(options: Record<string, string>, env: Record<string, string | undefined>): Promise<Backend>;
}

/** The runtime-agnostic backends. SDKs load on first use, so inmem users never load them. */
export const coreBackends: Record<string, BackendFactory> = {
  inmem: { ha: false, create: async () => new InmemBackend() },
  dynamodb: {
    ha: true,
    create: async (options, env) => (await import("./dynamodb.js")).createDynamoDBBackend(options, env),
  },
  s3: {
    ha: false,
    create: async (options, env) => (await import("./s3.js")).createS3Backend(options, env),
  },
};
