import { describe, expect, it } from "vitest";
import { pooledBytes } from "../../src/sdk/byte-pool.js";

describe("pooled byte arrays", () => {
  it("are zero-filled, never overlap while the slab lasts, and start eight-byte aligned", () => {
    const views = Array.from({ length: 200 }, (_, index) => pooledBytes(1 + ((index * 37) % 1500)));
    for (const [index, view] of views.entries()) {
      expect(view.every((byte) => byte === 0)).toBe(true);
      expect(view.byteOffset % 8).toBe(0);
      view.fill((index % 255) + 1);
    }
    // Each keeps what was written to it: no later view was cut from the same bytes.
    for (const [index, view] of views.entries()) expect(view.every((byte) => byte === (index % 255) + 1)).toBe(true);
  });

  it("give large arrays their own buffer", () => {
    const large = pooledBytes(100_000);
    expect(large.length).toBe(100_000);
    expect(large.buffer.byteLength).toBe(100_000);
    expect(pooledBytes(0).length).toBe(0);
  });
});
