/**
 * `storage "inmem_ha"` (as Vault ships it): process-memory data plus the record-version lease
 * lock over a Map. Cores in one process that share an instance elect one active among them, with
 * the same election logic as a database-backed store: in-process HA tests, and trying HA locally.
 */
import { type Backend } from "./backend.js";
import type { StorageDriver } from "./driver.js";
import { type Clock, type HABackend, type HALock, type LockHolder, monotonicClock } from "./ha.js";
import { InmemBackend } from "./inmem.js";
import { type HATimings, type LockLeaseRecord, type LockLeaseStore, defaultHATimings, haTimingsFrom, leaseLock } from "./lease.js";
import { StorageOptions } from "./options.js";

export const inmemHADriver: StorageDriver = {
  type: "inmem_ha",
  ha: true,
  create: async (options, env) => new InmemHABackend(haTimingsFrom(new StorageOptions("inmem_ha", options, env))),
};

/** What the nodes of one store share. */
interface SharedState {
  data: InmemBackend;
  records: Map<string, LockLeaseRecord>;
}

export class InmemHABackend implements Backend, HABackend {
  readonly haEnabled = true;
  readonly stepDownCooldownMs: number;
  readonly leaseMs: number;
  // Set again by node(), which joins a new instance to this one's store.
  #shared: SharedState = { data: new InmemBackend(), records: new Map() };
  #via: (store: LockLeaseStore) => LockLeaseStore = (store) => store;

  constructor(
    readonly timings: HATimings = defaultHATimings,
    private readonly clock: Clock = monotonicClock,
  ) {
    this.stepDownCooldownMs = timings.stepDownCooldownMs;
    this.leaseMs = timings.leaseMs;
  }

  /**
   * Another node on this store: the same data and lock records, its own clock. `via` wraps that
   * node's lock operations, where a network store would have the network (tests put faults there).
   */
  node(clock: Clock, via: (store: LockLeaseStore) => LockLeaseStore = (store) => store): InmemHABackend {
    const other = new InmemHABackend(this.timings, clock);
    other.#shared = this.#shared;
    other.#via = via;
    return other;
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.#shared.data.get(key);
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.#shared.data.put(key, value);
  }

  delete(key: string): Promise<void> {
    return this.#shared.data.delete(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.#shared.data.list(prefix);
  }

  lockWith(key: string, value: string): HALock {
    return leaseLock(this.#via(this.#leaseStore(key)), value, this.timings, this.clock);
  }

  async currentHolder(key: string): Promise<LockHolder | null> {
    const record = await this.#via(this.#leaseStore(key)).read(AbortSignal.timeout(this.timings.leaseMs));
    return record && !record.released ? { value: record.value, epoch: record.epoch } : null;
  }

  #leaseStore(key: string): LockLeaseStore {
    const { records } = this.#shared;
    return {
      read: async () => {
        const record = records.get(key);
        return record ? { ...record } : null;
      },
      claim: async (record, expected) => {
        if ((records.get(key)?.version ?? null) !== expected) return false;
        records.set(key, { ...record, released: false });
        return true;
      },
      renew: async (expected, next) => {
        const record = records.get(key);
        if (!record || !expected.includes(record.version)) return false;
        record.version = next;
        return true;
      },
      release: async (expected, next) => {
        const record = records.get(key);
        if (!record || !expected.includes(record.version)) return false;
        Object.assign(record, { version: next, released: true, value: "" });
        return true;
      },
    };
  }
}
