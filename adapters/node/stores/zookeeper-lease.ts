import { decodeRecord, encodeRecord, fenceValue } from "../../../src/physical/lease-record.js";
import type { LockLeaseRecord, LockLeaseStore } from "../../../src/physical/lease.js";
import { type MultiOp, ZK, type ZooKeeperClient } from "./zookeeper-client.js";

const RELEASED_FENCE = new TextEncoder().encode("released");

/**
 * The lease's record operations (lease.ts has the algorithm) as version-conditional writes on
 * the lock's record znode. Claims and releases also set the fence znode (the holder's epoch, or
 * "released") in the same multi-op, so the fence's znode version changes exactly when the holder
 * does: fenced data writes check it (zookeeper.ts).
 */
export class ZooKeeperLeaseStore implements LockLeaseStore {
  /** The record as last seen or written, with its znode version. */
  #known: { record: LockLeaseRecord; version: number } | null = null;

  constructor(
    private readonly zk: ZooKeeperClient,
    private readonly recordPath: string,
    private readonly fencePath: string,
  ) {}

  async read(signal: AbortSignal): Promise<LockLeaseRecord | null> {
    const found = await this.zk.getData(this.recordPath, signal);
    this.#known = found ? { record: decodeRecord(found.data), version: found.stat.version } : null;
    return this.#known ? { ...this.#known.record } : null;
  }

  async claim(record: { version: string; epoch: number; value: string }, expected: string | null, signal: AbortSignal): Promise<boolean> {
    const held: LockLeaseRecord = { ...record, released: false };
    if (expected !== null) return this.#swap([expected], () => held, fenceValue(record.epoch), signal);
    // No record yet: create it and the fence together (both or neither exist), each set once
    // more so that its version is 1 (see ZooKeeperClient.multi on version 0).
    const [data, fence] = [encodeRecord(held), fenceValue(record.epoch)];
    const codes = await this.zk.multi(
      [
        { create: this.recordPath, data },
        { setData: this.recordPath, data, version: -1 },
        { create: this.fencePath, data: fence },
        { setData: this.fencePath, data: fence, version: -1 },
      ],
      signal,
    );
    if (codes.every((code) => code === 0)) {
      this.#known = { record: held, version: 1 };
      return true;
    }
    if (codes[0] === ZK.NODE_EXISTS) return false;
    throw new Error(`ZooKeeper refused the lock record's creation (code ${codes.find((code) => code !== 0)})`);
  }

  renew(expected: string[], next: string, signal: AbortSignal): Promise<boolean> {
    return this.#swap(expected, (current) => ({ ...current, version: next }), null, signal);
  }

  release(expected: string[], next: string, signal: AbortSignal): Promise<boolean> {
    return this.#swap(expected, (current) => ({ ...current, version: next, released: true, value: "" }), RELEASED_FENCE, signal);
  }

  /** Replaces the record if its version is one of `expected`: conditional on the znode version, re-read on a mismatch. */
  async #swap(expected: string[], update: (current: LockLeaseRecord) => LockLeaseRecord, fence: Uint8Array | null, signal: AbortSignal): Promise<boolean> {
    if (!this.#known) await this.read(signal);
    for (;;) {
      const known = this.#known;
      if (!known || !expected.includes(known.record.version)) return false;
      const next = update(known.record);
      const ops: MultiOp[] = [{ setData: this.recordPath, data: encodeRecord(next), version: known.version }];
      if (fence) ops.push({ setData: this.fencePath, data: fence, version: -1 });
      const codes = await this.zk.multi(ops, signal);
      if (codes.every((code) => code === 0)) {
        this.#known = { record: next, version: known.version + 1 };
        return true;
      }
      if (codes[0] !== ZK.BAD_VERSION && codes[0] !== ZK.NO_NODE) {
        throw new Error(`ZooKeeper refused a lock record update (code ${codes.find((code) => code !== 0)})`);
      }
      await this.read(signal);
    }
  }
}
