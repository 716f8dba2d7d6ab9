import { describe, expect, it, vi } from "vitest";
import { nodeDrivers } from "../../adapters/node/stores/backends.js";
import { ConfigError } from "../../src/config/types.js";
import { isHABackend } from "../../src/physical/ha.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { coreDrivers, driversByType, selectHABackend } from "../../src/physical/registry.js";

// Loading an AWS SDK costs the inmem and file stores startup time and memory for nothing.
const sdksLoaded = vi.hoisted(() => [] as string[]);
vi.mock("@aws-sdk/client-dynamodb", () => {
  sdksLoaded.push("dynamodb");
  return {};
});
vi.mock("@aws-sdk/client-s3", () => {
  sdksLoaded.push("s3");
  return {};
});

const files = ["/etc/strongbox.hcl"];

describe("storage drivers", () => {
  it("each declare their type and whether they can hold the HA lock", () => {
    expect(Object.fromEntries(Object.entries(nodeDrivers).map(([type, driver]) => [type, driver.ha]))).toEqual({
      inmem: false,
      inmem_ha: true,
      dynamodb: true,
      s3: false,
      file: false,
      etcd: true,
      zookeeper: true,
    });
    for (const [type, driver] of Object.entries(nodeDrivers)) expect(driver.type).toBe(type);
    expect(new Set(coreDrivers.map((driver) => driver.type)).size).toBe(coreDrivers.length);
  });

  it("load no AWS SDK until such a store is created", async () => {
    const drivers = driversByType(coreDrivers);
    expect(await drivers.inmem!.create({}, {})).toBeInstanceOf(InmemBackend);
    expect(sdksLoaded).toEqual([]);
    // The stand-in SDKs are empty, so creating fails; what matters is that it loaded them then.
    await drivers.dynamodb!.create({}, {}).catch(() => {});
    await drivers.s3!.create({ bucket: "b" }, {}).catch(() => {});
    expect(sdksLoaded).toEqual(["dynamodb", "s3"]);
  });

  it("inmem_ha reads its lock timings and step-down cooldown from the stanza", async () => {
    const backend = await nodeDrivers.inmem_ha!.create(
      { ha_lease_duration: "3s", ha_renew_interval: "1s", ha_retry_interval: "250ms", ha_step_down_cooldown: "30s" },
      {},
    );
    expect(backend).toBeInstanceOf(InmemHABackend);
    expect((backend as InmemHABackend).timings).toEqual({ leaseMs: 3000, renewIntervalMs: 1000, retryIntervalMs: 250, stepDownCooldownMs: 30_000 });
    expect((backend as InmemHABackend).stepDownCooldownMs).toBe(30_000);
    expect((await nodeDrivers.inmem_ha!.create({}, {})) as InmemHABackend).toMatchObject({ stepDownCooldownMs: 10_000 });
  });

  it.each([
    [
      { ha_lease_duration: "1s", ha_renew_interval: "500ms" },
      /storage "inmem_ha": ha_lease_duration, ha_renew_interval and ha_retry_interval do not fit together: .*at most a third/,
    ],
    [{ ha_step_down_cooldown: "soon" }, /storage "inmem_ha": ha_step_down_cooldown = "soon" is not allowed/],
  ])("inmem_ha refuses %o, naming the keys", async (options, message) => {
    const creating = nodeDrivers.inmem_ha!.create(options, {});
    await expect(creating).rejects.toThrow(ConfigError);
    await expect(creating).rejects.toThrow(message);
  });
});

describe("selectHABackend", () => {
  it("uses storage itself when it can lock", async () => {
    const physical = await nodeDrivers.inmem_ha!.create({}, {});
    const config = { storage: { type: "inmem_ha", options: {} }, files };
    expect(await selectHABackend(nodeDrivers, config, physical, {})).toBe(physical);
  });

  it("leaves HA off when storage cannot lock and there is no ha_storage", async () => {
    const config = { storage: { type: "inmem", options: {} }, files };
    expect(await selectHABackend(nodeDrivers, config, new InmemBackend(), {})).toBeUndefined();
  });

  it("creates ha_storage when given, with its own stanza's timings", async () => {
    const config = {
      storage: { type: "inmem", options: {} },
      haStorage: { type: "inmem_ha", options: { ha_step_down_cooldown: "2m" } },
      files,
    };
    const ha = await selectHABackend(nodeDrivers, config, new InmemBackend(), {});
    expect(ha && isHABackend(ha)).toBe(true);
    expect(ha?.stepDownCooldownMs).toBe(120_000);
  });

  it("refuses an ha_storage that cannot lock", async () => {
    const config = { storage: { type: "inmem", options: {} }, haStorage: { type: "file", options: { path: "/nonexistent" } }, files };
    await expect(selectHABackend(nodeDrivers, config, new InmemBackend(), {})).rejects.toThrow(
      /\/etc\/strongbox.hcl: ha_storage "file" cannot hold the HA lock/,
    );
  });
});
