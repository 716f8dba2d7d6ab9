/**
 * What a store's lease record operations (LockLeaseStore, src/physical/lease.ts) promise the lock
 * algorithm, against the real store: conditional writes that hold when nodes race, records that
 * keep their epoch, and operations that fail, never answer "condition false", when the network
 * does, and that end when their signal aborts. The algorithm's timing cases (skew, pauses, faults
 * against the lease) do not depend on the store and run once on virtual time (lock-conformance.ts).
 */
import { describe, expect, it } from "vitest";
import type { LockLeaseStore } from "../../src/physical/lease.js";
import type { FaultProxy } from "../helpers/fault-proxy.js";

/** A backend's record operations for one lock key (each call: a new lock's view, as lockWith makes). */
export interface LeaseRecords {
  leaseStore(key: string): LockLeaseStore;
}

/** A new node on the store under test, reaching it through a fault proxy of its own (the caller closes it after each test). */
export type LeaseNodeFactory = () => Promise<{ node: LeaseRecords; proxy: FaultProxy }>;

const uuid = () => crypto.randomUUID();
// Long enough for a loaded machine; the fault cases use their own, short ones.
const answered = () => AbortSignal.timeout(20_000);
const claimOf = (epoch: number, value: string) => ({ version: uuid(), epoch, value });

export function leaseStoreConformance(name: string, createNode: LeaseNodeFactory): void {
  describe(`${name} lease records`, () => {
    /** `count` nodes' record operations on one fresh lock key. */
    async function nodesOn(count: number): Promise<{ leases: LockLeaseStore; proxy: FaultProxy }[]> {
      const key = `core/lock-${uuid()}`;
      return Promise.all(
        Array.from({ length: count }, async () => {
          const { node, proxy } = await createNode();
          return { leases: node.leaseStore(key), proxy };
        }),
      );
    }

    it("lets exactly one of racing claims take a free record, and a takeover only from the version it saw", async () => {
      const nodes = (await nodesOn(3)).map(({ leases }) => leases);
      expect(await nodes[0]!.read(answered())).toBeNull();

      const claims = nodes.map((_, i) => claimOf(1, `node${i}`));
      const won = await Promise.all(nodes.map((leases, i) => leases.claim(claims[i]!, null, answered())));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = won.indexOf(true);
      for (const leases of nodes) expect(await leases.read(answered())).toEqual({ ...claims[winner], released: false });

      const [first, second] = nodes.filter((_, i) => i !== winner);
      expect(await first!.claim(claimOf(1, "late"), null, answered())).toBe(false);
      expect(await first!.claim(claimOf(2, "stale"), uuid(), answered())).toBe(false);
      const takeovers = [claimOf(2, "first"), claimOf(2, "second")];
      const took = await Promise.all([
        first!.claim(takeovers[0]!, claims[winner]!.version, answered()),
        second!.claim(takeovers[1]!, claims[winner]!.version, answered()),
      ]);
      expect(took.filter(Boolean)).toHaveLength(1);
      expect(await nodes[winner]!.read(answered())).toEqual({ ...takeovers[took.indexOf(true)], released: false });
      // The old holder's renewal names a version that is gone.
      expect(await nodes[winner]!.renew([claims[winner]!.version], uuid(), answered())).toBe(false);
    });

    it("renews and releases only from an expected version, keeps the epoch, and accepts its own write landing twice", async () => {
      const [holder, other] = (await nodesOn(2)).map(({ leases }) => leases);
      const claimed = claimOf(7, "holder");
      expect(await holder!.claim(claimed, null, answered())).toBe(true);
      expect(await holder!.renew([uuid()], uuid(), answered())).toBe(false);

      const next = uuid();
      expect(await holder!.renew([claimed.version, next], next, answered())).toBe(true);
      // The same renewal sent again (as after a lost answer): the record already carries `next`.
      expect(await holder!.renew([claimed.version, next], next, answered())).toBe(true);
      expect(await other!.read(answered())).toEqual({ version: next, epoch: 7, value: "holder", released: false });

      expect(await holder!.release([claimed.version], uuid(), answered())).toBe(false);
      const released = uuid();
      expect(await holder!.release([next], released, answered())).toBe(true);
      expect(await other!.read(answered())).toMatchObject({ version: released, epoch: 7, released: true });

      // A released record is claimed from its version: the lock's next holder.
      const again = claimOf(8, "other");
      expect(await other!.claim(again, released, answered())).toBe(true);
      expect(await holder!.read(answered())).toEqual({ ...again, released: false });
    });

    for (const [network, fault] of [
      ["swallows requests (blackhole)", "blackhole"],
      ["answers later than the caller waits", { delayMs: 5_000 }],
    ] as const) {
      it(`ends each operation when its signal aborts, while the network ${network}`, async () => {
        const [{ leases, proxy }] = await nodesOn(1);
        proxy.setMode(fault);
        const aborted = () => AbortSignal.timeout(300);
        await expect(leases!.read(aborted())).rejects.toThrow();
        await expect(leases!.claim(claimOf(1, "a"), null, aborted())).rejects.toThrow();
        await expect(leases!.renew([uuid()], uuid(), aborted())).rejects.toThrow();
        await expect(leases!.release([uuid()], uuid(), aborted())).rejects.toThrow();
      });
    }

    it("fails operations over reset connections rather than answering that a condition is false", async () => {
      const [{ leases, proxy }] = await nodesOn(1);
      proxy.setMode("reset");
      // Whether the client gives up or its signal ends it first, it must not answer.
      const retrying = () => AbortSignal.timeout(2_000);
      await expect(leases!.read(retrying())).rejects.toThrow();
      await expect(leases!.claim(claimOf(1, "a"), null, retrying())).rejects.toThrow();
      await expect(leases!.renew([uuid()], uuid(), retrying())).rejects.toThrow();
      await expect(leases!.release([uuid()], uuid(), retrying())).rejects.toThrow();
    });
  });
}
