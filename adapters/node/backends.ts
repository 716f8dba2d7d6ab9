import { type BackendFactory, coreBackends } from "../../src/physical/registry.js";

/** Everything the Node server can store on: the core backends plus the filesystem. */
export const nodeBackends: Record<string, BackendFactory> = {
  ...coreBackends,
  file: {
    ha: false,
    create: async (options) => (await import("./file-backend.js")).createFileBackend(options),
  },
};
