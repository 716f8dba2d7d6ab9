import { type HABackend, monotonicClock } from "../../src/physical/ha.js";
import { type LeaseRecord, leaseLock, type LeaseStore } from "../../src/physical/lease.js";

/** The record-version lease over a Map: real election logic for in-process multi-core tests. */
export function inmemHABackend(timings = { leaseMs: 600, renewIntervalMs: 100, retryIntervalMs: 50 }): HABackend {
  const records = new Map<string, LeaseRecord>();
  const storeFor = (key: string): LeaseStore => ({
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
  });
  return {
    haEnabled: true,
    lockWith: (key, value) => leaseLock(storeFor(key), value, timings, monotonicClock),
    currentHolder: async (key) => {
      const record = records.get(key);
      return record && !record.released ? { value: record.value, epoch: record.epoch } : null;
    },
  };
}
