import { ConfigError, type StorageConfig } from "../config/types.js";
import type { Backend } from "./backend.js";
import type { StorageDriver } from "./driver.js";
import { dynamodbDriver } from "./dynamodb.js";
import { etcdDriver } from "./etcd.js";
import { type HABackend, isHABackend } from "./ha.js";
import { inmemDriver } from "./inmem.js";
import { inmemHADriver } from "./inmem-ha.js";
import { s3Driver } from "./s3.js";

/** The runtime-agnostic stores. Their SDKs load when a backend is created, not when listed here. */
export const coreDrivers: readonly StorageDriver[] = [inmemDriver, inmemHADriver, dynamodbDriver, s3Driver, etcdDriver];

/** Drivers keyed by stanza name. */
export function driversByType(drivers: readonly StorageDriver[]): Record<string, StorageDriver> {
  return Object.fromEntries(drivers.map((driver) => [driver.type, driver]));
}

/**
 * HA is on when `ha_storage` is given (it must be able to lock, with HA enabled) or when `storage`
 * itself can lock and its HA is enabled; off otherwise. Creates the ha_storage backend.
 */
export async function selectHABackend(
  drivers: Record<string, StorageDriver>,
  config: { storage: StorageConfig; haStorage?: StorageConfig; files: string[] },
  physical: Backend,
  env: Record<string, string | undefined>,
): Promise<(Backend & HABackend) | undefined> {
  const { haStorage } = config;
  if (haStorage) {
    const driver = Object.hasOwn(drivers, haStorage.type) ? drivers[haStorage.type] : undefined;
    if (!driver?.ha) {
      throw new ConfigError(`${config.files.join(", ")}: ha_storage "${haStorage.type}" cannot hold the HA lock`);
    }
    const backend = await driver.create(haStorage.options, env);
    if (!isHABackend(backend)) {
      throw new ConfigError(
        `${config.files.join(", ")}: ha_storage "${haStorage.type}" has HA disabled (ha_enabled = "false"); enable it or remove the ha_storage stanza`,
      );
    }
    return backend;
  }
  return isHABackend(physical) ? physical : undefined;
}
