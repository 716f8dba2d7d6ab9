import type { EtcdClient, EtcdKeyValue, EtcdOp } from "./etcd-client.js";
import type { LockLeaseRecord, LockLeaseStore } from "./lease.js";
import { decodeRecord, encodeRecord } from "./lease-record.js";

/** What the fence key holds once the lock is released: no epoch matches it. */
const RELEASED_FENCE = "released";

/**
 * The lease's record operations (lease.ts has the algorithm) as etcd transactions on the lock's
 * record key, conditional on its mod_revision. Each claim and release also writes the fence key
 * (the holder's epoch, or "released") in the same transaction; renewals leave it alone, so a
 * fenced data write compares one value that changes exactly when the holder does.
 */
export class EtcdLeaseStore implements LockLeaseStore {
  /** The record as last seen or written, with the mod_revision that identifies it. */
  #known: { record: LockLeaseRecord; modRevision: number } | null = null;

  constructor(
    private readonly client: EtcdClient,
    private readonly recordKey: Uint8Array,
    private readonly fenceKey: Uint8Array,
  ) {}

  async read(signal: AbortSignal): Promise<LockLeaseRecord | null> {
    this.#remember(await this.client.get(this.recordKey, signal));
    return this.#known ? { ...this.#known.record } : null;
  }

  async claim(record: { version: string; epoch: number; value: string }, expected: string | null, signal: AbortSignal): Promise<boolean> {
    const held: LockLeaseRecord = { ...record, released: false };
    if (expected !== null) return this.#swap([expected], () => held, String(record.epoch), signal);
    const result = await this.client.txn(
      [{ key: this.recordKey, target: "CREATE", createRevision: 0 }],
      this.#writes(held, String(record.epoch)),
      [{ range: { key: this.recordKey } }],
      signal,
    );
    if (result.succeeded) this.#known = { record: held, modRevision: result.revision };
    else this.#remember(result.ranges[0]?.[0] ?? null);
    return result.succeeded;
  }

  renew(expected: string[], next: string, signal: AbortSignal): Promise<boolean> {
    return this.#swap(expected, (current) => ({ ...current, version: next }), null, signal);
  }

  release(expected: string[], next: string, signal: AbortSignal): Promise<boolean> {
    return this.#swap(expected, (current) => ({ ...current, version: next, released: true, value: "" }), RELEASED_FENCE, signal);
  }

  /**
   * Replaces the record with `update(current)` if its version is one of `expected`: a
   * compare-and-swap on mod_revision whose failure branch returns the current record, so a stale
   * cache costs one more round trip and a changed version ends it.
   */
  async #swap(expected: string[], update: (current: LockLeaseRecord) => LockLeaseRecord, fence: string | null, signal: AbortSignal): Promise<boolean> {
    if (!this.#known) await this.read(signal);
    for (;;) {
      const known = this.#known;
      if (!known || !expected.includes(known.record.version)) return false;
      const next = update(known.record);
      const result = await this.client.txn(
        [{ key: this.recordKey, target: "MOD", modRevision: known.modRevision }],
        this.#writes(next, fence),
        [{ range: { key: this.recordKey } }],
        signal,
      );
      if (result.succeeded) {
        this.#known = { record: next, modRevision: result.revision };
        return true;
      }
      this.#remember(result.ranges[0]?.[0] ?? null);
    }
  }

  #writes(record: LockLeaseRecord, fence: string | null): EtcdOp[] {
    const writes: EtcdOp[] = [{ put: { key: this.recordKey, value: encodeRecord(record) } }];
    if (fence !== null) writes.push({ put: { key: this.fenceKey, value: new TextEncoder().encode(fence) } });
    return writes;
  }

  #remember(kv: EtcdKeyValue | null): void {
    this.#known = kv ? { record: decodeRecord(kv.value), modRevision: kv.modRevision } : null;
  }
}
