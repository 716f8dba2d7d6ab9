/**
 * Seal migration under HA, in process (shared in-memory storage and lock, moto's KMS): only the lock
 * holder writes the new seal configuration, exactly once, and a migration made stale by a change
 * elsewhere is not written.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SealStanza } from "../../src/config/types.js";
import { Core } from "../../src/core.js";
import { BoundAddresses } from "../../src/ha/addresses.js";
import { createLogger } from "../../src/sdk/logger.js";
import type { Backend } from "../../src/physical/backend.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { configuredSeal } from "../../src/seal/registry.js";
import { waitFor } from "../helpers/cluster.js";
import { createKmsKey, kmsEndpoint } from "../helpers/kms.js";

const fastTimings = { leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50, stepDownCooldownMs: 60_000 };
const SEAL_CONFIG = "core/seal-config";
const nodes: Core[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((core) => core.seal()));
});

/** Counts the writes of the seal configuration, whoever makes them. */
class CountingBackend extends InmemBackend {
  sealConfigWrites = 0;
  override async put(key: string, value: Uint8Array): Promise<void> {
    if (key === SEAL_CONFIG) this.sealConfigWrites++;
    await super.put(key, value);
  }
}

function awskms(kmsKeyId: string): SealStanza {
  return {
    type: "awskms",
    disabled: false,
    file: "node.hcl",
    options: { kms_key_id: kmsKeyId, region: "us-east-1", endpoint: kmsEndpoint(), access_key: "test", secret_key: "test" },
  };
}

function haNode(name: string, physical: Backend, backend: InmemHABackend, stanzas: SealStanza[], log: string[] = []): Core {
  const logger = createLogger("info", (line) => log.push(line));
  const core = new Core({
    physical,
    storageType: "inmem",
    seal: configuredSeal(stanzas, physical, logger.named("seal")),
    logger,
    ha: {
      backend,
      nodeId: name,
      hostname: name,
      addresses: BoundAddresses.of({ apiAddr: `http://${name}.example:8200`, clusterAddr: `https://${name}.example:8201` }),
    },
  });
  nodes.push(core);
  return core;
}

const decode = (key: string) => Uint8Array.from(atob(key), (c) => c.charCodeAt(0));

async function unseal(core: Core, keys: string[], migrate = false): Promise<void> {
  for (const key of keys) await core.submitUnsealKey(decode(key), migrate);
  expect(core.sealed).toBe(false);
}

/** A Shamir cluster's first node, active; the keys that unseal it. */
async function shamirActive(physical: Backend, backend: InmemHABackend) {
  const active = haNode("a", physical, backend, []);
  const init = await active.initialize({ secret_shares: 3, secret_threshold: 2 });
  const keys = init.keys_base64.slice(0, 2);
  await unseal(active, keys);
  await waitFor(async () => (active.isActive() ? true : null), 5_000, "node a active");
  return { active, keys };
}

async function nextActive(candidates: Core[]): Promise<Core> {
  return waitFor(async () => candidates.find((core) => core.isActive()) ?? null, 5_000, "a new active node");
}

describe("seal migration with HA", () => {
  it("standbys unsealed with -migrate leave storage alone; the one that takes the lock writes the new seal once", async () => {
    const physical = new CountingBackend();
    const backend = new InmemHABackend(fastTimings);
    const { active, keys } = await shamirActive(physical, backend);
    const kms = [awskms(await createKmsKey())];
    const logs = { b: [] as string[], c: [] as string[] };
    const b = haNode("b", physical, backend, kms, logs.b);
    const c = haNode("c", physical, backend, kms, logs.c);
    const writesBefore = physical.sealConfigWrites;
    await unseal(b, keys, true);
    await unseal(c, keys, true);
    expect(physical.sealConfigWrites).toBe(writesBefore);
    expect(await b.sealStatus()).toMatchObject({ type: "shamir", sealed: false, migration: true });

    await active.stepDown();
    const first = await nextActive([b, c]);
    await waitFor(async () => (physical.sealConfigWrites > writesBefore ? true : null), 5_000, "the seal configuration to be written");
    expect(physical.sealConfigWrites).toBe(writesBefore + 1);
    const other = first === b ? c : b;
    // The other migrated standby sees the migration done on its next status.
    expect(await other.sealStatus()).toMatchObject({ type: "awskms", recovery_seal: true, migration: false });
    expect((first === b ? logs.b : logs.c).join("\n")).toContain("seal: seal migration completed: from=shamir to=awskms");

    // Leadership moving on to the other migrated node writes nothing more.
    await first.stepDown();
    expect(await nextActive([other])).toBe(other);
    expect(physical.sealConfigWrites).toBe(writesBefore + 1);
    expect((first === b ? logs.c : logs.b).join("\n")).not.toContain("seal migration completed");
  });

  it("a stored seal configuration changed since the -migrate unseal is not overwritten; the node serves, still migrating", async () => {
    const physical = new CountingBackend();
    const backend = new InmemHABackend(fastTimings);
    const { active, keys } = await shamirActive(physical, backend);
    const log: string[] = [];
    const b = haNode("b", physical, backend, [awskms(await createKmsKey())], log);
    await unseal(b, keys, true);
    // As a rekey elsewhere would: the stored Shamir configuration is no longer the one b checked its keys against.
    const stored = JSON.parse(new TextDecoder().decode((await physical.get(SEAL_CONFIG))!));
    const changed = new TextEncoder().encode(JSON.stringify({ ...stored, secret_shares: 4 }));
    await physical.put(SEAL_CONFIG, changed);
    const writes = physical.sealConfigWrites;

    await active.stepDown();
    expect(await nextActive([b])).toBe(b);
    await waitFor(async () => (log.some((line) => line.includes("seal migration not completed")) ? true : null), 5_000, "the refusal in the log");
    expect(physical.sealConfigWrites).toBe(writes);
    expect(await physical.get(SEAL_CONFIG)).toEqual(changed);
    expect(await b.sealStatus()).toMatchObject({ type: "shamir", migration: true, sealed: false });
  });
});
