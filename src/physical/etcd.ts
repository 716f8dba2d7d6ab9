/**
 * `storage "etcd"` / `ha_storage "etcd"`: data and the HA lock in etcd v3, over its JSON gateway.
 *
 * Layout: a storage key `k` is the etcd key `<path>k` (path defaults to "/vault/"); `list` is a
 * keys-only range over the prefix, paged. The lock lives outside the data prefix, under
 * `<path without its last "/">:ha/`: `<lock key>` holds the lease record (lease.ts's algorithm,
 * conditional on the record's mod_revision) and `<lock key>:fence` the holder's epoch, written
 * in the same transaction as each claim and release. With `storage "etcd"` alone the active's
 * writes are transactions comparing that fence, so a deposed active's late write is refused by
 * etcd itself.
 *
 * The lease is timed on the nodes' own monotonic clocks (as for DynamoDB), not by an etcd lease:
 * etcd lease TTLs are whole seconds with a server minimum (2 s with default raft timings), which
 * would rule out the default 1.5 s lease, and a holder cannot learn when the server will expire one.
 */
import { type Backend, BackendInputError, childrenOf } from "./backend.js";
import type { StorageDriver } from "./driver.js";
import { EtcdClient, EtcdError, type Transport, fetchTransport, prefixEnd } from "./etcd-client.js";
import { EtcdLeaseStore } from "./etcd-lease.js";
import { decodeRecord, fenceValue } from "./lease-record.js";
import { type Clock, type Fenceable, type HABackend, type HALock, type LockHolder, FencedError, monotonicClock } from "./ha.js";
import { type HATimings, type LockLeaseStore, haTimingsFrom, leaseLock } from "./lease.js";
import { StorageOptions } from "./options.js";

/** Values above this are refused up front; etcd's default request limit (1.5 MiB) leaves room for the key and the fence. */
export const ETCD_VALUE_LIMIT_BYTES = 1024 * 1024;
const LIST_PAGE = 1000;

export interface EtcdSettings {
  addresses: string[];
  path: string;
  haEnabled: boolean;
  username: string | undefined;
  password: string | undefined;
  requestTimeoutMs: number;
  maxReceiveBytes: number;
  tls: { caFile?: string; certFile?: string; keyFile?: string };
  lock: HATimings;
}

/** Reads a `storage "etcd"` stanza (Vault's keys and environment variables). */
export function etcdSettings(options: Record<string, string>, env: Record<string, string | undefined>): EtcdSettings {
  const o = new StorageOptions("etcd", options, env);
  const api = o.string("etcd_api", ["ETCD_API"]) ?? "v3";
  if (api === "v2") throw o.error('etcd_api = "v2" is not supported: Strongbox speaks etcd\'s v3 API only (etcd 3.4+ serves it); remove etcd_api or set "v3"');
  if (api !== "v3") throw o.error(`etcd_api = "${api}" is not allowed: use "v3"`);
  const addresses = (o.string("address", ["ETCD_ADDR"]) ?? "http://127.0.0.1:2379")
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean)
    .map((address) => {
      let url: URL;
      try {
        url = new URL(address);
      } catch {
        throw o.error(`address "${address}" is not a URL such as "http://127.0.0.1:2379"`);
      }
      if (!/^https?:$/.test(url.protocol) || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
        throw o.error(`address "${address}" is not allowed: use http://host:port or https://host:port, without a path`);
      }
      return url.origin;
    });
  if (addresses.length === 0) throw o.error("address lists no etcd client URL");
  let path = o.string("path") ?? "/vault/";
  if (!path.startsWith("/")) path = `/${path}`;
  if (!path.endsWith("/")) path = `${path}/`;
  // Vault's lock_timeout is its etcd session TTL, i.e. the lease; ha_lease_duration wins when both are set.
  const lockTimeout = o.string("lock_timeout");
  const timingOptions = lockTimeout && !options.ha_lease_duration ? { ...options, ha_lease_duration: lockTimeout } : options;
  return {
    addresses,
    path,
    // On unless turned off (Vault defaults to off), as for DynamoDB: a store that can lock should.
    haEnabled: o.bool("ha_enabled", true, ["ETCD_HA_ENABLED"]),
    username: o.string("username", ["ETCD_USERNAME"]),
    password: o.string("password", ["ETCD_PASSWORD"]),
    requestTimeoutMs: o.durationMs("request_timeout", 5000),
    maxReceiveBytes: o.positiveInt("max_receive_size", 0),
    tls: { caFile: o.string("tls_ca_file"), certFile: o.string("tls_cert_file"), keyFile: o.string("tls_key_file") },
    lock: haTimingsFrom(new StorageOptions("etcd", timingOptions, env)),
  };
}

/** The runtime-agnostic driver: plain fetch, so no TLS files (the Node server's driver reads those). */
export const etcdDriver: StorageDriver = {
  type: "etcd",
  ha: true,
  create: async (options, env) => {
    const settings = etcdSettings(options, env);
    if (settings.tls.caFile || settings.tls.certFile || settings.tls.keyFile) {
      throw new StorageOptions("etcd", options, env).error("tls_ca_file, tls_cert_file and tls_key_file need the Node server, which reads the files");
    }
    return new EtcdBackend(settings, fetchTransport);
  },
};

export class EtcdBackend implements Backend, HABackend, Fenceable {
  readonly haEnabled: boolean;
  readonly stepDownCooldownMs: number;
  readonly leaseMs: number;
  readonly #client: EtcdClient;
  readonly #encoder = new TextEncoder();

  constructor(
    private readonly settings: EtcdSettings,
    transport: Transport,
    private readonly clock: Clock = monotonicClock,
  ) {
    this.haEnabled = settings.haEnabled;
    this.stepDownCooldownMs = settings.lock.stepDownCooldownMs;
    this.leaseMs = settings.lock.leaseMs;
    this.#client = new EtcdClient({ ...settings, transport });
  }

  async get(key: string): Promise<Uint8Array | null> {
    return (await this.#client.get(this.#dataKey(key)))?.value ?? null;
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.#write(key, value, null);
  }

  delete(key: string): Promise<void> {
    return this.#write(key, null, null);
  }

  async list(prefix: string): Promise<string[]> {
    const start = this.#dataKey(prefix);
    const end = prefixEnd(start);
    const decoder = new TextDecoder();
    const keys: string[] = [];
    for (let from = start; ; ) {
      const page = await this.#client.keys(from, end, LIST_PAGE);
      for (const key of page.keys) keys.push(decoder.decode(key.subarray(start.length)));
      const last = page.keys[page.keys.length - 1];
      if (!page.more || !last) break;
      from = new Uint8Array([...last, 0]); // the next key after `last`
    }
    return childrenOf("", keys);
  }

  lockWith(key: string, value: string): HALock {
    if (!this.haEnabled) throw new Error('HA is not enabled for this etcd storage (set ha_enabled = "true")');
    return leaseLock(this.leaseStore(key), value, this.settings.lock, this.clock);
  }

  /** The lock record operations on `key` (tests check them against the real store). */
  leaseStore(key: string): LockLeaseStore {
    return new EtcdLeaseStore(this.#client, this.#lockKey(key), this.#fenceKey(key));
  }

  async currentHolder(key: string): Promise<LockHolder | null> {
    // Bounded: a standby routing requests must answer, not hang, when etcd stops answering it.
    const kv = await this.#client.get(this.#lockKey(key), AbortSignal.timeout(this.settings.lock.leaseMs));
    const record = kv ? decodeRecord(kv.value) : null;
    return record && !record.released ? { value: record.value, epoch: record.epoch } : null;
  }

  fencedBy(lockKey: string, epoch: number): Backend {
    const fence = { lockKey, epoch };
    return {
      get: (key) => this.get(key),
      list: (prefix) => this.list(prefix),
      put: (key, value) => this.#write(key, value, fence),
      delete: (key) => this.#write(key, null, fence),
    };
  }

  /** A put (`value`) or delete (null), as one transaction on the fence when `fence` is given. */
  async #write(key: string, value: Uint8Array | null, fence: { lockKey: string; epoch: number } | null): Promise<void> {
    if (value && value.length > ETCD_VALUE_LIMIT_BYTES) {
      throw new BackendInputError(
        `value for ${JSON.stringify(key)} is ${value.length} bytes; etcd values are limited to ${ETCD_VALUE_LIMIT_BYTES} bytes (1 MiB) here`,
      );
    }
    const dataKey = this.#dataKey(key);
    try {
      if (!fence) {
        if (value) await this.#client.put(dataKey, value);
        else await this.#client.delete(dataKey);
        return;
      }
      const result = await this.#client.txn(
        [{ key: this.#fenceKey(fence.lockKey), target: "VALUE", value: fenceValue(fence.epoch) }],
        [value ? { put: { key: dataKey, value } } : { deleteRange: { key: dataKey } }],
        [],
      );
      if (!result.succeeded) {
        throw new FencedError(`write refused: lock "${fence.lockKey}" no longer holds epoch ${fence.epoch} (another node took it, or it was released)`);
      }
    } catch (error) {
      if (error instanceof EtcdError && /request is too large/.test(error.message)) {
        throw new BackendInputError(`value for ${JSON.stringify(key)} is over the etcd server's request size limit (--max-request-bytes)`);
      }
      throw error;
    }
  }

  #dataKey(key: string): Uint8Array {
    return this.#encoder.encode(this.settings.path + key);
  }

  #lockKey(key: string): Uint8Array {
    return this.#encoder.encode(`${this.settings.path.slice(0, -1)}:ha/${key}`);
  }

  #fenceKey(key: string): Uint8Array {
    return this.#encoder.encode(`${this.settings.path.slice(0, -1)}:ha/${key}:fence`);
  }
}
