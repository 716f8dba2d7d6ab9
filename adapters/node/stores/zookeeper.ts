/**
 * `storage "zookeeper"` / `ha_storage "zookeeper"` (Node only: ZooKeeper's protocol is not HTTP).
 *
 * Layout, as Vault's: key "a/b/c" is the znode `/<path>/a/b/_c`; folders are znodes without the
 * "_" (segments are percent-encoded as the file backend does, so any key maps to a valid, unique
 * znode name). A delete removes folders it left empty; a put re-creates a folder a concurrent
 * delete removed. The lock lives beside the data, under `/<path>:ha/`: the record znode holds
 * the lease record (lease.ts's algorithm, conditional on the znode version) and `<record>:fence`
 * the holder's epoch, set in the same multi-op as each claim and release. With `storage
 * "zookeeper"` alone, the active's writes are multi-ops that check the fence's znode version, so
 * ZooKeeper refuses a deposed active's late write.
 */
import zookeeper from "node-zookeeper-client";
import { type Backend, BackendInputError } from "../../../src/physical/backend.js";
import type { StorageDriver } from "../../../src/physical/driver.js";
import { type Clock, type Fenceable, type HABackend, type HALock, type LockHolder, FencedError, monotonicClock } from "../../../src/physical/ha.js";
import { type HATimings, type LockLeaseStore, haTimingsFrom, leaseLock } from "../../../src/physical/lease.js";
import { decodeRecord, fenceValue } from "../../../src/physical/lease-record.js";
import { StorageOptions } from "../../../src/physical/options.js";
import { decodeSegment, encodeSegment } from "./file-backend.js";
import { type MultiOp, ZK, ZooKeeperClient, type ZooKeeperConnection, zkCode } from "./zookeeper-client.js";
import { ZooKeeperLeaseStore } from "./zookeeper-lease.js";
import { type ZooKeeperTlsFiles, loadZooKeeperTls, zookeeperTlsFiles } from "./zookeeper-tls.js";

/** Below ZooKeeper's default request limit (jute.maxbuffer, 1 MiB − 1 byte) with room for the path. */
export const ZOOKEEPER_VALUE_LIMIT_BYTES = 1_000_000;
const KEY_LIMIT_BYTES = 32 * 1024;
/** Data operations give up after this; the library would otherwise wait out an outage. */
const REQUEST_TIMEOUT_MS = 10_000;
const SESSION_TIMEOUT_MS = 10_000;

export interface ZooKeeperSettings {
  connection: ZooKeeperConnection;
  /** `tls_*` keys: the files are read when the backend is created. */
  tls: ZooKeeperTlsFiles | null;
  /** The data root znode, e.g. "/vault". */
  root: string;
  haEnabled: boolean;
  lock: HATimings;
}

/** Reads a `storage "zookeeper"` stanza (Vault's keys). */
export function zookeeperSettings(options: Record<string, string>, env: Record<string, string | undefined>): ZooKeeperSettings {
  const o = new StorageOptions("zookeeper", options, env);
  const addresses = (o.string("address") ?? "localhost:2181")
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  for (const address of addresses) {
    if (!/^[A-Za-z0-9.\-_]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(address)) throw o.error(`address "${address}" is not host:port`);
  }
  if (addresses.length === 0) throw o.error("address lists no ZooKeeper server");
  const path = (o.string("path") ?? "vault/").replace(/^\/+|\/+$/g, "");
  if (path === "" || path.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw o.error(`path "${o.string("path")}" is not a znode path such as "vault/"`);
  }
  return {
    connection: {
      addresses: addresses.join(","),
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      authInfo: schemeAndRest(o, "auth_info", "secret"),
      acl: aclFor(o),
    },
    tls: zookeeperTlsFiles(o),
    root: `/${path}`,
    // On unless turned off (Vault defaults to off), as for DynamoDB: a store that can lock should.
    haEnabled: o.bool("ha_enabled", true),
    lock: haTimingsFrom(o),
  };
}

function schemeAndRest(o: StorageOptions, key: string, rest: string): { scheme: string; secret: string } | undefined {
  const text = o.string(key);
  if (text === undefined) return undefined;
  const colon = text.indexOf(":");
  if (colon < 1 || colon === text.length - 1) throw o.error(`${key} must be "scheme:${rest}", e.g. "digest:user:password"`);
  return { scheme: text.slice(0, colon), secret: text.slice(colon + 1) };
}

/** All permissions for `znode_owner` ("scheme:id") when given; open otherwise, as Vault does. */
function aclFor(o: StorageOptions): ZooKeeperConnection["acl"] {
  const owner = schemeAndRest(o, "znode_owner", "id");
  const id = owner ? new zookeeper.Id(owner.scheme, owner.secret) : new zookeeper.Id("world", "anyone");
  return [new zookeeper.ACL(zookeeper.Permission.ALL, id)];
}

export const zookeeperDriver: StorageDriver = {
  type: "zookeeper",
  ha: true,
  create: (options, env) => createZooKeeperBackend(options, env),
};

export async function createZooKeeperBackend(
  options: Record<string, string>,
  env: Record<string, string | undefined>,
  clock: Clock = monotonicClock,
): Promise<ZooKeeperBackend> {
  const settings = zookeeperSettings(options, env);
  if (settings.tls) {
    const stanza = new StorageOptions("zookeeper", options, env);
    settings.connection.tls = await loadZooKeeperTls(settings.tls, (message) => stanza.error(message));
  }
  const zk = await ZooKeeperClient.connect(settings.connection, REQUEST_TIMEOUT_MS);
  const backend = new ZooKeeperBackend(zk, settings, clock);
  try {
    await backend.ensureRoots();
  } catch (error) {
    zk.close();
    throw new Error(`ZooKeeper at ${settings.connection.addresses}: cannot create ${settings.root}: ${(error as Error).message ?? String(error)}`);
  }
  return backend;
}

export class ZooKeeperBackend implements Backend, HABackend, Fenceable {
  readonly haEnabled: boolean;
  readonly stepDownCooldownMs: number;
  readonly leaseMs: number;
  readonly #haRoot: string;

  constructor(
    private readonly zk: ZooKeeperClient,
    private readonly settings: ZooKeeperSettings,
    private readonly clock: Clock,
  ) {
    this.haEnabled = settings.haEnabled;
    this.stepDownCooldownMs = settings.lock.stepDownCooldownMs;
    this.leaseMs = settings.lock.leaseMs;
    this.#haRoot = `${settings.root}:ha`;
  }

  /** Creates the data and lock roots (and their parents) if missing. */
  async ensureRoots(): Promise<void> {
    for (const root of [this.settings.root, this.#haRoot]) {
      const segments = root.split("/").slice(1);
      for (let i = 1; i <= segments.length; i++) await this.#createFolder(`/${segments.slice(0, i).join("/")}`, timeout());
    }
  }

  close(): void {
    this.zk.close();
  }

  async get(key: string): Promise<Uint8Array | null> {
    return (await this.zk.getData(this.#valuePath(key), timeout()))?.data ?? null;
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.#put(key, value, null);
  }

  delete(key: string): Promise<void> {
    return this.#delete(key, null);
  }

  async list(prefix: string): Promise<string[]> {
    const folder = prefix === "" ? this.settings.root : `${this.settings.root}/${prefix.slice(0, -1).split("/").map(encodeSegment).join("/")}`;
    const children = (await this.zk.getChildren(folder, timeout())) ?? [];
    const names: string[] = [];
    for (const child of children) {
      const isValue = child.startsWith("_");
      const segment = decodeSegment(isValue ? child.slice(1) : child);
      if (segment !== null) names.push(isValue ? segment : `${segment}/`);
    }
    return names.sort();
  }

  lockWith(key: string, value: string): HALock {
    if (!this.haEnabled) throw new Error('HA is not enabled for this ZooKeeper storage (set ha_enabled = "true")');
    return leaseLock(this.leaseStore(key), value, this.settings.lock, this.clock);
  }

  /** The lock record operations on `key` (tests check them against the real store). */
  leaseStore(key: string): LockLeaseStore {
    return new ZooKeeperLeaseStore(this.zk, this.#recordPath(key), this.#fencePath(key));
  }

  async currentHolder(key: string): Promise<LockHolder | null> {
    const found = await this.zk.getData(this.#recordPath(key), AbortSignal.timeout(this.settings.lock.leaseMs));
    const record = found ? decodeRecord(found.data) : null;
    return record && !record.released ? { value: record.value, epoch: record.epoch } : null;
  }

  fencedBy(lockKey: string, epoch: number): Backend {
    const fence = new Fence(this.zk, this.#fencePath(lockKey), lockKey, epoch);
    return {
      get: (key) => this.get(key),
      list: (prefix) => this.list(prefix),
      put: (key, value) => this.#put(key, value, fence),
      delete: (key) => this.#delete(key, fence),
    };
  }

  async #put(key: string, value: Uint8Array, fence: Fence | null): Promise<void> {
    if (value.length > ZOOKEEPER_VALUE_LIMIT_BYTES) {
      throw new BackendInputError(
        `value for ${JSON.stringify(key)} is ${value.length} bytes; ZooKeeper values are limited to ${ZOOKEEPER_VALUE_LIMIT_BYTES} bytes here (jute.maxbuffer)`,
      );
    }
    const path = this.#valuePath(key);
    const signal = timeout();
    for (;;) {
      // Overwrite if it exists; otherwise create it, making its folders first (a concurrent
      // delete may remove one again between the two: then go round).
      if ((await this.#write({ setData: path, data: value, version: -1 }, fence, signal)) !== ZK.NO_NODE) return;
      const folders = path.split("/").slice(1, -1);
      const rootDepth = this.settings.root.split("/").length - 1;
      let made = true;
      for (let i = rootDepth + 1; made && i <= folders.length; i++) made = await this.#createFolder(`/${folders.slice(0, i).join("/")}`, signal);
      if (!made) continue;
      const created = await this.#write({ create: path, data: value }, fence, signal);
      if (created !== ZK.NO_NODE && created !== ZK.NODE_EXISTS) return;
    }
  }

  async #delete(key: string, fence: Fence | null): Promise<void> {
    const path = this.#valuePath(key);
    const signal = timeout();
    await this.#write({ remove: path, version: -1 }, fence, signal);
    // Remove the folders this left empty, deepest first; a folder with children stays.
    for (let folder = path.slice(0, path.lastIndexOf("/")); folder.length > this.settings.root.length; folder = folder.slice(0, folder.lastIndexOf("/"))) {
      try {
        await this.zk.remove(folder, -1, signal);
      } catch (error) {
        if (zkCode(error) === ZK.NOT_EMPTY) return;
        if (zkCode(error) !== ZK.NO_NODE) throw error;
      }
    }
  }

  /** One write, checked against `fence` in a multi-op when given. Resolves with NO_NODE / NODE_EXISTS (else 0); rejects on anything else. */
  async #write(op: MultiOp, fence: Fence | null, signal: AbortSignal): Promise<number> {
    if (!fence) {
      try {
        if ("setData" in op) await this.zk.setData(op.setData, op.data, op.version, signal);
        else if ("create" in op) await this.zk.create(op.create, op.data, signal);
        else if ("remove" in op) await this.zk.remove(op.remove, op.version, signal);
        return 0;
      } catch (error) {
        const code = zkCode(error);
        if ("remove" in op && code === ZK.NO_NODE) return 0;
        if (code === ZK.NO_NODE || code === ZK.NODE_EXISTS) return code;
        throw error;
      }
    }
    const codes = await this.zk.multi([await fence.check(signal), op], signal);
    if (codes[0] === ZK.BAD_VERSION || codes[0] === ZK.NO_NODE) throw fence.refusal();
    const code = codes[1] ?? 0;
    if ("remove" in op && code === ZK.NO_NODE) return 0;
    if (code === 0 || code === ZK.NO_NODE || code === ZK.NODE_EXISTS) return code;
    throw new Error(`ZooKeeper refused the write (code ${code})`);
  }

  /** Creates the folder znode unless it exists; false when its parent is gone (a delete pruned it meanwhile). */
  async #createFolder(path: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.zk.create(path, new Uint8Array(), signal);
    } catch (error) {
      if (zkCode(error) === ZK.NO_NODE) return false;
      if (zkCode(error) !== ZK.NODE_EXISTS) throw error;
    }
    return true;
  }

  #valuePath(key: string): string {
    if (key === "" || new TextEncoder().encode(key).length > KEY_LIMIT_BYTES) {
      throw new BackendInputError(`key must be non-empty and at most ${KEY_LIMIT_BYTES} bytes for ZooKeeper`);
    }
    const segments = key.split("/").map(encodeSegment);
    segments[segments.length - 1] = `_${segments[segments.length - 1]}`;
    return `${this.settings.root}/${segments.join("/")}`;
  }

  #recordPath(lockKey: string): string {
    return `${this.#haRoot}/${encodeSegment(lockKey)}`;
  }

  #fencePath(lockKey: string): string {
    return `${this.#recordPath(lockKey)}:fence`;
  }
}

/** The fence znode's version while it holds our epoch: learned once, then checked in every write. */
class Fence {
  #version: number | null = null;

  constructor(
    private readonly zk: ZooKeeperClient,
    private readonly path: string,
    private readonly lockKey: string,
    private readonly epoch: number,
  ) {}

  async check(signal: AbortSignal): Promise<MultiOp> {
    if (this.#version === null) {
      const found = await this.zk.getData(this.path, signal);
      if (!found || new TextDecoder().decode(found.data) !== new TextDecoder().decode(fenceValue(this.epoch))) throw this.refusal();
      this.#version = found.stat.version;
    }
    return { check: this.path, version: this.#version };
  }

  refusal(): FencedError {
    return new FencedError(`write refused: lock "${this.lockKey}" no longer holds epoch ${this.epoch} (another node took it, or it was released)`);
  }
}

function timeout(): AbortSignal {
  return AbortSignal.timeout(REQUEST_TIMEOUT_MS);
}
