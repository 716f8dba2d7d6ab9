import { afterEach, describe, expect, it } from "vitest";
import { Core, type CoreRequest } from "../../src/core.js";
import { BoundAddresses } from "../../src/ha/addresses.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { waitFor } from "../helpers/cluster.js";

/**
 * Short lease; a stepped-down node sits out long enough for the other one to take over, then
 * contends again.
 */
const timings = { leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 1_000 };

const cores: Core[] = [];
afterEach(async () => {
  await Promise.all(cores.splice(0).map((core) => core.seal()));
});

function node(name: string, physical: InmemBackend, backend: InmemHABackend): Core {
  const core = new Core({
    physical,
    storageType: "inmem_ha",
    ha: {
      backend,
      nodeId: name,
      hostname: name,
      addresses: BoundAddresses.of({ apiAddr: `http://${name}.example:8200`, clusterAddr: `https://${name}.example:8201` }),
    },
  });
  cores.push(core);
  return core;
}

const active = (core: Core, name: string) => waitFor(async () => (core.isActive() ? true : null), 10_000, `node ${name} active`);

describe("the storage cache across active terms", () => {
  it("does not serve an entry cached in an earlier term after another node changed it", async () => {
    const physical = new InmemBackend();
    const backend = new InmemHABackend(timings);
    const a = node("a", physical, backend);
    const b = node("b", physical, backend);
    const init = await a.initialize({ secret_shares: 1, secret_threshold: 1 });
    const key = Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0));
    await a.submitUnsealKey(key);
    await active(a, "a");
    await b.submitUnsealKey(key);
    const call = (core: Core, operation: CoreRequest["operation"], path: string, data: Record<string, unknown> = {}) =>
      core.requests.handle({ operation, path, data, token: init.root_token });
    const secret = async (core: Core) => ((await call(core, "read", "secret/data/x")) as any)?.data;

    // Term 1: A writes and reads the secret, so its metadata and version are cached.
    await a.enableMount("secret/", { type: "kv", options: { version: "2" } });
    await call(a, "update", "secret/data/x", { data: { owner: "a" } });
    expect(await secret(a)).toMatchObject({ data: { owner: "a" }, metadata: { version: 1 } });

    // Term 2: A loses the lock; B takes over and changes the secret.
    await a.stepDown();
    await active(b, "b");
    await call(b, "update", "secret/data/x", { data: { owner: "b" } });

    // Term 3: A is active again and must read what B wrote.
    await b.stepDown();
    await active(a, "a");
    expect(await secret(a)).toMatchObject({ data: { owner: "b" }, metadata: { version: 2 } });
  });
});
