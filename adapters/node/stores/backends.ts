import type { StorageDriver } from "../../../src/physical/driver.js";
import { coreDrivers, driversByType } from "../../../src/physical/registry.js";
import { etcdNodeDriver } from "./etcd-tls.js";
import { fileDriver } from "./file-backend.js";
import { zookeeperDriver } from "./zookeeper.js";

/** Everything the Node server can store on: the core stores, the filesystem, etcd with TLS files, ZooKeeper. */
export const nodeDrivers: Record<string, StorageDriver> = driversByType([...coreDrivers, fileDriver, etcdNodeDriver, zookeeperDriver]);
