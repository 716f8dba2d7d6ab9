import { Core } from "../../src/core.js";
import { BoundAddresses } from "../../src/ha/addresses.js";
import type { Forwarder } from "../../src/ha/forwarding.js";
import type { Backend } from "../../src/physical/backend.js";
import type { HABackend } from "../../src/physical/ha.js";

const started: Core[] = [];

/** An in-process HA node on shared storage and lock, reached at http://<name>.example:8200. */
export function haNode(name: string, physical: Backend, backend: HABackend, forwarder?: Forwarder, options: { standbyReads?: boolean } = {}): Core {
  const core = new Core({
    physical,
    storageType: "inmem",
    ha: {
      backend,
      nodeId: name,
      hostname: name,
      addresses: BoundAddresses.of({ apiAddr: `http://${name}.example:8200`, clusterAddr: `https://${name}.example:8201` }),
      forwarder,
      standbyReads: options.standbyReads,
    },
  });
  started.push(core);
  return core;
}

/** Seals every node made since the last call (for afterEach). */
export async function sealHANodes(): Promise<void> {
  await Promise.all(started.splice(0).map((core) => core.seal()));
}
