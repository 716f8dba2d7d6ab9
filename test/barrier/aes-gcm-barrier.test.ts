import { beforeEach, describe, expect, it } from "vitest";
import { AesGcmBarrier, KEYRING_PATH, ROOT_KEY_PATH } from "../../src/barrier/aes-gcm-barrier.js";
import { InvalidKeyError, SealedError, TamperedError } from "../../src/barrier/types.js";
import { CachedBackend } from "../../src/physical/cache.js";
import { InmemBackend } from "../../src/physical/inmem.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function unsealKey(fill = 7): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

function termOf(raw: Uint8Array): number {
  return new DataView(raw.buffer, raw.byteOffset).getUint32(1);
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe("AesGcmBarrier", () => {
  let backend: InmemBackend;
  let barrier: AesGcmBarrier;

  beforeEach(async () => {
    backend = new InmemBackend();
    barrier = new AesGcmBarrier(backend);
    await barrier.initialize(unsealKey());
    await barrier.unseal(unsealKey());
  });

  it("round-trips values, lists names and deletes", async () => {
    await barrier.put("secret/a", encoder.encode("alpha"));
    await barrier.put("secret/dir/b", new Uint8Array());
    expect(decoder.decode((await barrier.get("secret/a"))!)).toBe("alpha");
    expect(await barrier.get("secret/dir/b")).toEqual(new Uint8Array());
    expect(await barrier.get("secret/missing")).toBeNull();
    expect(await barrier.list("secret/")).toEqual(["a", "dir/"]);
    await barrier.delete("secret/a");
    expect(await barrier.get("secret/a")).toBeNull();
  });

  it("stores [version][term][nonce][ciphertext+tag] and never the plaintext", async () => {
    const plaintext = encoder.encode("the quick brown fox jumps over the lazy dog");
    await barrier.put("secret/fox", plaintext);
    await barrier.put("secret/fox2", plaintext);
    const raw = (await backend.get("secret/fox"))!;
    expect(raw[0]).toBe(1);
    expect(termOf(raw)).toBe(1);
    expect(raw.length).toBe(1 + 4 + 12 + plaintext.length + 16);
    for (const key of ["secret/fox", "secret/fox2", ROOT_KEY_PATH, KEYRING_PATH]) {
      expect(contains((await backend.get(key))!, plaintext)).toBe(false);
    }
    // Random nonces: equal plaintexts give different ciphertexts.
    expect(await backend.get("secret/fox2")).not.toEqual(raw);
  });

  it("reports a flipped byte anywhere in an entry as tampering", async () => {
    await barrier.put("secret/a", encoder.encode("alpha"));
    const raw = (await backend.get("secret/a"))!;
    for (let i = 0; i < raw.length; i++) {
      const altered = raw.slice();
      altered[i]! ^= 0x01;
      await backend.put("secret/a", altered);
      await expect(barrier.get("secret/a"), `byte ${i}`).rejects.toBeInstanceOf(TamperedError);
    }
  });

  it("reports truncated entries as tampering", async () => {
    await barrier.put("secret/a", encoder.encode("alpha"));
    const raw = (await backend.get("secret/a"))!;
    for (const length of [0, 3, 17, 32, raw.length - 1]) {
      await backend.put("secret/a", raw.slice(0, length));
      await expect(barrier.get("secret/a")).rejects.toBeInstanceOf(TamperedError);
    }
  });

  it("detects a ciphertext copied to another path", async () => {
    await barrier.put("secret/a", encoder.encode("alpha"));
    await backend.put("secret/b", (await backend.get("secret/a"))!);
    await expect(barrier.get("secret/b")).rejects.toBeInstanceOf(TamperedError);
  });

  it("reports an entry naming an unknown keyring term as tampering", async () => {
    await barrier.put("secret/a", encoder.encode("alpha"));
    const raw = (await backend.get("secret/a"))!;
    for (const term of [0, 2, 0xffffffff]) {
      const altered = raw.slice();
      new DataView(altered.buffer).setUint32(1, term);
      await backend.put("secret/a", altered);
      await expect(barrier.get("secret/a")).rejects.toBeInstanceOf(TamperedError);
    }
  });

  it("rejects a wrong unseal key and stays sealed", async () => {
    barrier.seal();
    await expect(barrier.unseal(unsealKey(8))).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(barrier.unseal(new Uint8Array(16))).rejects.toBeInstanceOf(InvalidKeyError);
    expect(barrier.sealed).toBe(true);
    await barrier.unseal(unsealKey());
    expect(barrier.sealed).toBe(false);
  });

  it("rejects a wrong unseal key even when already unsealed", async () => {
    await expect(barrier.unseal(unsealKey(8))).rejects.toBeInstanceOf(InvalidKeyError);
    expect(barrier.sealed).toBe(false);
  });

  it("refuses every data call while sealed, and seal state survives a new instance", async () => {
    await barrier.put("secret/a", encoder.encode("alpha"));
    barrier.seal();
    expect(barrier.sealed).toBe(true);
    await expect(barrier.get("secret/a")).rejects.toBeInstanceOf(SealedError);
    await expect(barrier.put("secret/a", new Uint8Array(1))).rejects.toBeInstanceOf(SealedError);
    await expect(barrier.delete("secret/a")).rejects.toBeInstanceOf(SealedError);
    await expect(barrier.list("secret/")).rejects.toBeInstanceOf(SealedError);
    await expect(barrier.rotate()).rejects.toBeInstanceOf(SealedError);
    expect(() => barrier.activeTerm()).toThrow(SealedError);
    expect(await barrier.initialized()).toBe(true);

    const restarted = new AesGcmBarrier(backend);
    expect(restarted.sealed).toBe(true);
    await restarted.unseal(unsealKey());
    expect(decoder.decode((await restarted.get("secret/a"))!)).toBe("alpha");
  });

  it("initializes once, sealed, and only with a 32-byte key", async () => {
    await expect(barrier.initialize(unsealKey())).rejects.toThrow(/already initialized/);
    const fresh = new AesGcmBarrier(new InmemBackend());
    expect(await fresh.initialized()).toBe(false);
    await expect(fresh.unseal(unsealKey())).rejects.toThrow(/not initialized/);
    await expect(fresh.initialize(new Uint8Array(16))).rejects.toBeInstanceOf(RangeError);
    await fresh.initialize(unsealKey());
    expect(await fresh.initialized()).toBe(true);
    expect(fresh.sealed).toBe(true);
  });

  it("rotates: new writes carry the new term, old entries still read, across restarts", async () => {
    expect(barrier.activeTerm()).toBe(1);
    await barrier.put("secret/old", encoder.encode("old"));
    expect(await barrier.rotate()).toBe(2);
    expect(barrier.activeTerm()).toBe(2);
    await barrier.put("secret/new", encoder.encode("new"));
    expect(termOf((await backend.get("secret/old"))!)).toBe(1);
    expect(termOf((await backend.get("secret/new"))!)).toBe(2);
    expect(decoder.decode((await barrier.get("secret/old"))!)).toBe("old");

    const terms = await Promise.all([barrier.rotate(), barrier.rotate()]);
    expect(terms.sort()).toEqual([3, 4]);

    const restarted = new AesGcmBarrier(backend);
    await restarted.unseal(unsealKey());
    expect(restarted.activeTerm()).toBe(4);
    expect(decoder.decode((await restarted.get("secret/old"))!)).toBe("old");
    expect(decoder.decode((await restarted.get("secret/new"))!)).toBe("new");
  });

  it("reads entries written under a term another node added after we unsealed", async () => {
    const other = new AesGcmBarrier(backend);
    await other.unseal(unsealKey());
    expect(await other.rotate()).toBe(2);
    await other.put("secret/from-other", encoder.encode("hi"));
    expect(decoder.decode((await barrier.get("secret/from-other"))!)).toBe("hi");
    expect(barrier.activeTerm()).toBe(2);
    expect(await barrier.rotate()).toBe(3);
  });

  it("keeps its own entries out of reach of logical paths", async () => {
    for (const path of [ROOT_KEY_PATH, KEYRING_PATH, "core/barrier/anything"]) {
      await expect(barrier.get(path)).rejects.toThrow(/reserved/);
      await expect(barrier.put(path, new Uint8Array(1))).rejects.toThrow(/reserved/);
      await expect(barrier.delete(path)).rejects.toThrow(/reserved/);
    }
    await expect(barrier.list("core/barrier/")).rejects.toThrow(/reserved/);
    // Other core/ entries go through the barrier as usual.
    await barrier.put("core/mounts", encoder.encode("{}"));
    expect(decoder.decode((await barrier.get("core/mounts"))!)).toBe("{}");
  });

  it("lets a seal() issued during an unseal win", async () => {
    barrier.seal();
    const unsealing = barrier.unseal(unsealKey());
    barrier.seal();
    await unsealing;
    expect(barrier.sealed).toBe(true);
  });

  it("stays sealed when sealed during a rotation, which is still durable", async () => {
    // Seal exactly while the new keyring is being written.
    const put = backend.put.bind(backend);
    backend.put = async (key, value) => {
      if (key === KEYRING_PATH) barrier.seal();
      await put(key, value);
    };
    expect(await barrier.rotate()).toBe(2);
    expect(barrier.sealed).toBe(true);
    await barrier.unseal(unsealKey());
    expect(barrier.activeTerm()).toBe(2);
  });

  it("reports a tampered keyring at unseal", async () => {
    barrier.seal();
    const keyring = (await backend.get(KEYRING_PATH))!;
    keyring[keyring.length - 1]! ^= 0xff;
    await backend.put(KEYRING_PATH, keyring);
    await expect(barrier.unseal(unsealKey())).rejects.toBeInstanceOf(TamperedError);
    expect(barrier.sealed).toBe(true);
  });
});

describe("AesGcmBarrier: decrypted-entry memo", () => {
  it("serves a remembered plaintext only for the exact bytes it came from", async () => {
    const backend = new InmemBackend();
    const mine = new AesGcmBarrier(backend);
    await mine.initialize(unsealKey());
    await mine.unseal(unsealKey());
    const other = new AesGcmBarrier(backend);
    await other.unseal(unsealKey());

    await mine.put("secret/a", encoder.encode("mine"));
    expect(decoder.decode((await mine.get("secret/a"))!)).toBe("mine");
    // Another node (same keys) writes the path: the stored bytes change, so the memo must not answer.
    await other.put("secret/a", encoder.encode("theirs"));
    expect(decoder.decode((await mine.get("secret/a"))!)).toBe("theirs");

    const stored = (await backend.get("secret/a"))!;
    stored[stored.length - 1]! ^= 1;
    await backend.put("secret/a", stored);
    await expect(mine.get("secret/a")).rejects.toThrow(TamperedError);
  });

  it("shares one plaintext object per stored entry over the read cache, and a new one once the entry changes", async () => {
    const cache = new CachedBackend(new InmemBackend());
    cache.begin();
    const barrier = new AesGcmBarrier(cache);
    await barrier.initialize(unsealKey());
    await barrier.unseal(unsealKey());
    const written = encoder.encode("v1");
    await barrier.put("secret/a", written);
    written[0] = 0; // the writer's bytes stay its own
    const first = await barrier.getShared("secret/a");
    expect(decoder.decode(first!)).toBe("v1");
    expect(await barrier.getShared("secret/a")).toBe(first);
    expect(await barrier.get("secret/a")).not.toBe(first);
    await barrier.put("secret/a", encoder.encode("v2"));
    const second = await barrier.getShared("secret/a");
    expect(second).not.toBe(first);
    expect(decoder.decode(second!)).toBe("v2");
  });

  it("hands out copies and forgets everything on seal", async () => {
    const backend = new InmemBackend();
    const barrier = new AesGcmBarrier(backend);
    await barrier.initialize(unsealKey());
    await barrier.unseal(unsealKey());
    await barrier.put("secret/a", encoder.encode("abc"));
    (await barrier.get("secret/a"))![0] = 0;
    expect(decoder.decode((await barrier.get("secret/a"))!)).toBe("abc");
    barrier.seal();
    await expect(barrier.get("secret/a")).rejects.toThrow(SealedError);
  });
});
