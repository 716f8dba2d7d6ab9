import { expect } from "vitest";
import type { Backend } from "../../src/physical/backend.js";
import { type Fenceable, FencedError, type HABackend } from "../../src/physical/ha.js";
import type { TestClock } from "./lock-conformance.js";

export type FencedStore = HABackend & Fenceable & Backend;

/**
 * What every store that fences data writes promises: once B holds the lock, A's writes through its
 * old epoch are refused (A paused, its network working: the worst case for late writes), and after
 * B releases, B's epoch writes nothing either. `a` runs on `clockA`; both share one data prefix.
 * `lockOutsideData`: the lock's own records never show in a list of the data prefix's root.
 */
export async function expectFencedWrites(
  { a, b, clockA, lockKey }: { a: FencedStore; b: FencedStore; clockA: TestClock; lockKey: string },
  { lockOutsideData }: { lockOutsideData: boolean },
): Promise<void> {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const text = (value: Uint8Array | null) => new TextDecoder().decode(value!);
  const holdA = await a.lockWith(lockKey, "a").acquire();
  const storageA = a.fencedBy(lockKey, holdA.epoch);
  await storageA.put("sys/config", bytes("from A"));

  const contending = b.lockWith(lockKey, "b").acquire();
  clockA.pause();
  const holdB = await contending;
  expect(holdA.held()).toBe(false);
  const storageB = b.fencedBy(lockKey, holdB.epoch);

  await expect(storageA.put("sys/config", bytes("late A"))).rejects.toThrow(FencedError);
  await expect(storageA.put("sys/new", bytes("late A"))).rejects.toThrow(FencedError);
  await expect(storageA.delete("sys/config")).rejects.toThrow(FencedError);
  expect(text(await storageA.get("sys/config"))).toBe("from A");
  expect(await storageA.list("sys/")).toEqual(["config"]);
  if (lockOutsideData) expect(await storageA.list("")).toEqual(["sys/"]);

  await storageB.put("sys/config", bytes("from B"));
  expect(text(await storageB.get("sys/config"))).toBe("from B");
  await holdB.release();
  // Released: no epoch may write any more.
  await expect(storageB.put("sys/config", bytes("after release"))).rejects.toThrow(new RegExp(`no longer holds epoch ${holdB.epoch}`));
  clockA.resume();
}
