import type { StorageDriver } from "../../src/physical/driver.js";
import { coreDrivers, driversByType } from "../../src/physical/registry.js";
import { etcdNodeDriver } from "./etcd-tls.js";
import { fileDriver } from "./file-backend.js";

/** Everything the Node server can store on: the core stores, the filesystem, and etcd with TLS files. */
export const nodeDrivers: Record<string, StorageDriver> = driversByType([...coreDrivers, fileDriver, etcdNodeDriver]);
