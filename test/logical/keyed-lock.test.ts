import { describe, expect, it } from "vitest";
import { KeyedLock } from "../../src/sdk/keyed-lock.js";

/** A promise with its resolver, to hold work open until the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe("KeyedLock", () => {
  it("runs work for one key one at a time, in arrival order, and other keys alongside", async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const first = gate();
    const a1 = lock.run("a", async () => {
      events.push("a1 start");
      await first.opened;
      events.push("a1 end");
    });
    const a2 = lock.run("a", async () => void events.push("a2"));
    await lock.run("b", async () => void events.push("b"));
    expect(events).toEqual(["a1 start", "b"]);
    first.open();
    await Promise.all([a1, a2]);
    expect(events).toEqual(["a1 start", "b", "a1 end", "a2"]);
  });

  it("passes on the result or the error, and a failure does not block the key", async () => {
    const lock = new KeyedLock();
    await expect(lock.run("a", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(lock.run("a", async () => 42)).resolves.toBe(42);
  });
});
