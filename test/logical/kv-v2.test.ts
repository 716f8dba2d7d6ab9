import { describe, expect, it } from "vitest";
import { createKvV2 } from "../../src/builtin/kv/v2.js";
import { AesGcmBarrier } from "../../src/barrier/aes-gcm-barrier.js";
import type { Storage } from "../../src/sdk/types.js";
import { CachedBackend } from "../../src/physical/cache.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { RecordingStorage, SlowStorage, engineClient, expectLogicalError, mountEntry } from "./kv-fixtures.js";

const START = Date.parse("2024-05-01T12:00:00.123Z");

/** A v2 engine on a fresh initialised mount with a clock the test moves by hand. */
async function setup(storage: Storage = new InmemBackend()) {
  let nowMillis = START;
  const engine = createKvV2({ now: () => new Date(nowMillis) });
  const mount = mountEntry({ options: { version: "2" } });
  await engine.initialize!(storage, mount);
  const kv = engineClient(engine, mount, storage);
  const advance = (seconds: number) => {
    nowMillis += seconds * 1000;
  };
  const put = (key: string, data: Record<string, unknown>, options?: Record<string, unknown>) =>
    kv.write(`data/${key}`, options ? { data, options } : { data });
  return { ...kv, engine, advance, put };
}

describe("kv v2 config", () => {
  it("starts with Vault's defaults and reads back what was written", async () => {
    const kv = await setup();
    expect(await kv.read("config")).toEqual({
      data: { cas_required: false, delete_version_after: "0s", max_versions: 0 },
    });
    expect(await kv.write("config", { max_versions: "5", cas_required: true, delete_version_after: "90m" })).toBeNull();
    expect(await kv.read("config")).toEqual({
      data: { cas_required: true, delete_version_after: "1h30m0s", max_versions: 5 },
    });
  });

  it("rejects malformed settings", async () => {
    const kv = await setup();
    await expectLogicalError(kv.write("config", { max_versions: "lots" }), 400, /max_versions/);
    await expectLogicalError(kv.write("config", { cas_required: "maybe" }), 400, /cas_required/);
    await expectLogicalError(kv.write("config", { delete_version_after: "soon" }), 400, /delete_version_after/);
  });
});

describe("kv v2 data", () => {
  it("numbers versions from 1 and returns the new version's metadata on write", async () => {
    const kv = await setup();
    expect(await kv.put("app", { password: "one" })).toEqual({
      data: {
        created_time: "2024-05-01T12:00:00.123Z",
        custom_metadata: null,
        deletion_time: "",
        destroyed: false,
        version: 1,
      },
    });
    kv.advance(1);
    expect((await kv.put("app", { password: "two" }))?.data).toMatchObject({ version: 2 });
  });

  it("reads the latest version or the one asked for with ?version=", async () => {
    const kv = await setup();
    await kv.put("app", { password: "one" });
    kv.advance(60);
    await kv.put("app", { password: "two" });
    expect(await kv.read("data/app")).toEqual({
      data: {
        data: { password: "two" },
        metadata: {
          created_time: "2024-05-01T12:01:00.123Z",
          custom_metadata: null,
          deletion_time: "",
          destroyed: false,
          version: 2,
        },
      },
    });
    expect((await kv.read("data/app", { version: "1" }))?.data).toMatchObject({
      data: { password: "one" },
      metadata: { version: 1 },
    });
    expect((await kv.read("data/app", { version: "0" }))?.data).toMatchObject({ metadata: { version: 2 } });
    await expectLogicalError(kv.read("data/app", { version: "7" }), 404, "");
    await expectLogicalError(kv.read("data/missing"), 404, "");
  });

  it("reads one version without loading the others", async () => {
    const storage = new InmemBackend();
    const kv = await setup(storage);
    for (const n of [1, 2, 3]) await kv.put("app", { n });
    const recording = new RecordingStorage(storage);
    await kv.engine.handle({ operation: "read", path: "data/app", data: { version: "2" }, storage: recording, mount: kv.mount });
    expect(recording.reads).toEqual(["metadata/app", "versions/app/2"]);
  });

  it("enforces check-and-set", async () => {
    const kv = await setup();
    await expectLogicalError(kv.put("app", { v: 1 }, { cas: 1 }), 400, "check-and-set parameter did not match the current version");
    expect((await kv.put("app", { v: 1 }, { cas: 0 }))?.data).toMatchObject({ version: 1 });
    await expectLogicalError(kv.put("app", { v: 2 }, { cas: 0 }), 400, "check-and-set parameter did not match the current version");
    expect((await kv.put("app", { v: 2 }, { cas: "1" }))?.data).toMatchObject({ version: 2 });
    await expectLogicalError(kv.put("app", { v: 3 }, { cas: "x" }), 400, /error parsing check-and-set parameter/);
  });

  it("requires cas when the engine or the key says so", async () => {
    const kv = await setup();
    await kv.put("free", { v: 1 });
    await kv.write("metadata/free", { cas_required: true });
    await expectLogicalError(kv.put("free", { v: 2 }), 400, "check-and-set parameter required for this call");
    expect((await kv.put("free", { v: 2 }, { cas: 1 }))?.data).toMatchObject({ version: 2 });

    await kv.write("config", { cas_required: true });
    await expectLogicalError(kv.put("other", { v: 1 }), 400, "check-and-set parameter required for this call");
    expect((await kv.put("other", { v: 1 }, { cas: 0 }))?.data).toMatchObject({ version: 1 });
    const response = await kv.write("metadata/other", { cas_required: false });
    expect(response?.warnings?.[0]).toMatch(/cas_required/);
  });

  it("soft-deletes the latest version, keeping older ones readable", async () => {
    const kv = await setup();
    await kv.put("app", { v: 1 });
    await kv.put("app", { v: 2 });
    kv.advance(5);
    expect(await kv.remove("data/app")).toBeNull();
    const error = await expectLogicalError(kv.read("data/app"), 404, "");
    expect(error.body).toEqual({
      data: {
        data: null,
        metadata: {
          created_time: "2024-05-01T12:00:00.123Z",
          custom_metadata: null,
          deletion_time: "2024-05-01T12:00:05.123Z",
          destroyed: false,
          version: 2,
        },
      },
    });
    expect((await kv.read("data/app", { version: "1" }))?.data).toMatchObject({ data: { v: 1 } });
    // Writing again after a delete creates version 3 rather than reviving 2.
    expect((await kv.put("app", { v: 3 }))?.data).toMatchObject({ version: 3 });
  });

  it("over storage that shares its bytes (the barrier over the read cache), every read sees the latest write", async () => {
    const cache = new CachedBackend(new InmemBackend());
    cache.begin();
    const barrier = new AesGcmBarrier(cache);
    await barrier.initialize(new Uint8Array(32).fill(1));
    await barrier.unseal(new Uint8Array(32).fill(1));
    const kv = await setup(barrier);
    await kv.put("app", { v: 1 });
    // Read twice: the second answer comes from what the first decoded.
    for (let i = 0; i < 2; i++) expect((await kv.read("data/app"))?.data).toMatchObject({ data: { v: 1 }, metadata: { version: 1, deletion_time: "" } });
    await kv.put("app", { v: 2 });
    for (let i = 0; i < 2; i++) expect((await kv.read("data/app"))?.data).toMatchObject({ data: { v: 2 }, metadata: { version: 2 } });
    kv.advance(5);
    await kv.remove("data/app");
    for (let i = 0; i < 2; i++) {
      const error = await expectLogicalError(kv.read("data/app"), 404, "");
      expect(error.body).toMatchObject({ data: { metadata: { version: 2, deletion_time: "2024-05-01T12:00:05.123Z" } } });
    }
    await kv.write("undelete/app", { versions: [2] });
    expect((await kv.read("data/app"))?.data).toMatchObject({ data: { v: 2 }, metadata: { deletion_time: "" } });
  });

  it("deletes, undeletes and destroys chosen versions", async () => {
    const storage = new InmemBackend();
    const kv = await setup(storage);
    for (const v of [1, 2, 3]) await kv.put("app", { v });

    expect(await kv.write("delete/app", { versions: [1, 2] })).toBeNull();
    await expectLogicalError(kv.read("data/app", { version: "1" }), 404, "");
    await expectLogicalError(kv.read("data/app", { version: "2" }), 404, "");
    expect((await kv.read("data/app"))?.data).toMatchObject({ data: { v: 3 } });

    expect(await kv.write("undelete/app", { versions: "1" })).toBeNull();
    expect((await kv.read("data/app", { version: "1" }))?.data).toMatchObject({
      data: { v: 1 },
      metadata: { deletion_time: "" },
    });

    expect(await kv.write("destroy/app", { versions: ["1", 2] })).toBeNull();
    const destroyed = await expectLogicalError(kv.read("data/app", { version: "1" }), 404, "");
    expect(destroyed.body).toMatchObject({ data: { data: null, metadata: { destroyed: true, version: 1 } } });
    expect(await storage.get("versions/app/1")).toBeNull();
    expect(await storage.get("versions/app/2")).toBeNull();

    // A destroyed version cannot be brought back.
    await kv.write("undelete/app", { versions: [1] });
    await expectLogicalError(kv.read("data/app", { version: "1" }), 404, "");

    const metadata = await kv.read("metadata/app");
    expect(metadata?.data?.versions).toMatchObject({
      "1": { destroyed: true },
      "2": { destroyed: true },
      "3": { destroyed: false, deletion_time: "" },
    });
  });

  it("schedules deletion with delete_version_after", async () => {
    const kv = await setup();
    await kv.write("config", { delete_version_after: "1h" });
    expect((await kv.put("app", { v: 1 }))?.data).toMatchObject({ deletion_time: "2024-05-01T13:00:00.123Z" });
    await kv.write("metadata/app", { delete_version_after: "10m" });
    expect((await kv.put("app", { v: 2 }))?.data).toMatchObject({ deletion_time: "2024-05-01T12:10:00.123Z" });
    expect((await kv.read("data/app"))?.data).toMatchObject({ data: { v: 2 } });
    kv.advance(600);
    await expectLogicalError(kv.read("data/app"), 404, "");
    expect((await kv.read("data/app", { version: "1" }))?.data).toMatchObject({ data: { v: 1 } });

    await kv.write("config", { delete_version_after: -1 });
    expect(await kv.read("config")).toMatchObject({ data: { delete_version_after: "-1s" } });
    expect((await kv.put("app", { v: 3 }))?.data).toMatchObject({ deletion_time: "" });
  });

  it("merges a patch into the current version as a new version", async () => {
    const kv = await setup();
    await kv.put("app", { keep: "k", drop: "d", nested: { x: 1, y: 2 } });
    const patched = await kv.patch("data/app", { data: { drop: null, nested: { y: null, z: 3 }, added: true } });
    expect(patched?.data).toMatchObject({ version: 2 });
    expect((await kv.read("data/app"))?.data?.data).toEqual({ keep: "k", nested: { x: 1, z: 3 }, added: true });
    await expectLogicalError(kv.patch("data/app", { data: { a: 1 }, options: { cas: 1 } }), 400, /did not match/);
  });

  it("refuses to patch a missing or deleted secret", async () => {
    const kv = await setup();
    await expectLogicalError(kv.patch("data/missing", { data: { a: 1 } }), 404, "");
    await kv.put("app", { a: 1 });
    await kv.remove("data/app");
    const error = await expectLogicalError(kv.patch("data/app", { data: { a: 2 } }), 404, "");
    expect(error.body).toMatchObject({ data: { version: 1, deletion_time: "2024-05-01T12:00:00.123Z" } });
  });

  it("gives concurrent writes to one key distinct consecutive versions", async () => {
    const kv = await setup(new InmemBackend());
    const slow = engineClient(kv.engine, kv.mount, new SlowStorage());
    await kv.engine.initialize!(slow.storage, kv.mount);
    const writes = Array.from({ length: 25 }, (_, i) => slow.write("data/race", { data: { writer: i } }));
    const versions = (await Promise.all(writes)).map((response) => response?.data?.version as number);
    expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const metadata = await slow.read("metadata/race");
    expect(metadata?.data).toMatchObject({ current_version: 25, oldest_version: 16 });
    expect(Object.keys(metadata?.data?.versions as object)).toHaveLength(10);
    // Each kept version still holds what its own writer stored.
    for (const [i, version] of versions.entries()) {
      if (version < 16) continue;
      expect((await slow.read("data/race", { version: String(version) }))?.data?.data).toEqual({ writer: i });
    }
  });

  it("rejects malformed writes and version numbers with 400", async () => {
    const kv = await setup();
    await expectLogicalError(kv.write("data/app", {}), 400, "no data provided");
    await expectLogicalError(kv.write("data/app", { data: "text" }), 400, /"data" must be a JSON object.*a string/);
    await expectLogicalError(kv.write("data/app", { data: [1, 2] }), 400, /"data" must be a JSON object.*an array/);
    await expectLogicalError(kv.write("data/app", { data: { a: 1 }, options: 5 }), 400, /"options" must be a JSON object/);
    await kv.put("app", { a: 1 });
    await expectLogicalError(kv.read("data/app", { version: "abc" }), 400, /invalid version "abc"/);
    await expectLogicalError(kv.read("data/app", { version: "-1" }), 400, /invalid version "-1"/);
    await expectLogicalError(kv.write("delete/app", {}), 400, "no version number provided");
    await expectLogicalError(kv.write("destroy/app", { versions: [] }), 400, "no version number provided");
    await expectLogicalError(kv.write("undelete/app", { versions: ["one"] }), 400, /invalid version "one"/);
    await expectLogicalError(kv.write("delete/app", { versions: [1.5] }), 400, /invalid version 1.5/);
    await expectLogicalError(kv.write("metadata/app", { max_versions: -2 }), 400, /max_versions/);
    await expectLogicalError(kv.write("metadata/app", { delete_version_after: "-1h" }), 400, /cannot be negative/);
  });
});

describe("kv v2 metadata", () => {
  it("reports every kept version and the key's settings", async () => {
    const kv = await setup();
    await kv.put("app", { v: 1 });
    kv.advance(2);
    await kv.put("app", { v: 2 });
    expect(await kv.read("metadata/app")).toEqual({
      data: {
        cas_required: false,
        created_time: "2024-05-01T12:00:00.123Z",
        current_version: 2,
        custom_metadata: null,
        delete_version_after: "0s",
        max_versions: 0,
        oldest_version: 0,
        updated_time: "2024-05-01T12:00:02.123Z",
        versions: {
          "1": { created_time: "2024-05-01T12:00:00.123Z", deletion_time: "", destroyed: false },
          "2": { created_time: "2024-05-01T12:00:02.123Z", deletion_time: "", destroyed: false },
        },
      },
    });
    await expectLogicalError(kv.read("metadata/missing"), 404, "");
  });

  it("prunes the oldest versions beyond max_versions and moves oldest_version", async () => {
    const storage = new InmemBackend();
    const kv = await setup(storage);
    await kv.write("metadata/small", { max_versions: 3 });
    for (const v of [1, 2, 3, 4, 5]) await kv.put("small", { v });
    const metadata = await kv.read("metadata/small");
    expect(metadata?.data).toMatchObject({ current_version: 5, oldest_version: 3, max_versions: 3 });
    expect(Object.keys(metadata?.data?.versions as object)).toEqual(["3", "4", "5"]);
    await expectLogicalError(kv.read("data/small", { version: "2" }), 404, "");
    expect(await storage.list("versions/small/")).toEqual(["3", "4", "5"]);

    // Without a setting the limit is 10.
    for (let v = 1; v <= 12; v++) await kv.put("big", { v });
    expect((await kv.read("metadata/big"))?.data).toMatchObject({ current_version: 12, oldest_version: 3 });
    expect(await storage.list("versions/big/")).toHaveLength(10);
  });

  it("stores custom metadata and shows it on data reads", async () => {
    const kv = await setup();
    expect(await kv.write("metadata/app", { custom_metadata: { owner: "ops", tier: 1 } })).toBeNull();
    await kv.put("app", { v: 1 });
    expect((await kv.read("data/app"))?.data?.metadata).toMatchObject({ custom_metadata: { owner: "ops", tier: "1" } });

    await kv.patch("metadata/app", { custom_metadata: { tier: null, team: "core" }, max_versions: 4 });
    expect((await kv.read("metadata/app"))?.data).toMatchObject({
      custom_metadata: { owner: "ops", team: "core" },
      max_versions: 4,
      current_version: 1,
    });
    await expectLogicalError(kv.patch("metadata/missing", { max_versions: 1 }), 404, "");
  });

  it("validates custom metadata", async () => {
    const kv = await setup();
    await expectLogicalError(kv.write("metadata/app", { custom_metadata: { "": "x" } }), 400, /custom_metadata validation failed/);
    await expectLogicalError(kv.write("metadata/app", { custom_metadata: { k: "x".repeat(513) } }), 400, /512/);
    await expectLogicalError(kv.write("metadata/app", { custom_metadata: { k: "bell\u0007" } }), 400, /unprintable/);
    await expectLogicalError(kv.write("metadata/app", { custom_metadata: { k: { deep: 1 } } }), 400, /must be a string/);
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    await expectLogicalError(kv.write("metadata/app", { custom_metadata: many }), 400, /at most 64 keys/);
  });

  it("deletes all versions and the metadata", async () => {
    const storage = new InmemBackend();
    const kv = await setup(storage);
    for (const v of [1, 2, 3]) await kv.put("app", { v });
    await kv.put("app/child", { v: 1 });
    expect(await kv.remove("metadata/app")).toBeNull();
    await expectLogicalError(kv.read("metadata/app"), 404, "");
    await expectLogicalError(kv.read("data/app", { version: "1" }), 404, "");
    expect(await storage.list("versions/app/")).toEqual(["child/"]);
    expect((await kv.read("data/app/child"))?.data).toMatchObject({ data: { v: 1 } });
    expect(await kv.remove("metadata/never")).toBeNull();
  });

  it("lists nested folders", async () => {
    const kv = await setup();
    await kv.put("a/x", { v: 1 });
    await kv.put("a/y/z", { v: 1 });
    await kv.put("b", { v: 1 });
    expect(await kv.list("metadata/")).toEqual({ data: { keys: ["a/", "b"] } });
    expect(await kv.list("metadata")).toEqual({ data: { keys: ["a/", "b"] } });
    expect(await kv.list("metadata/a/")).toEqual({ data: { keys: ["x", "y/"] } });
    expect(await kv.list("metadata/a")).toEqual({ data: { keys: ["x", "y/"] } });
    expect(await kv.list("metadata/none/")).toEqual({ data: { keys: [] } });

    await kv.remove("data/b");
    expect(await kv.list("metadata/", { exclude_deleted: "true" })).toEqual({ data: { keys: ["a/"] } });
  });
});

describe("kv v2 subkeys", () => {
  it("returns the structure with leaf values replaced by null", async () => {
    const kv = await setup();
    await kv.put("app", { user: "u", db: { host: "h", opts: { tls: true } }, empty: {} });
    expect((await kv.read("subkeys/app"))?.data).toEqual({
      subkeys: { user: null, db: { host: null, opts: { tls: null } }, empty: null },
      metadata: expect.objectContaining({ version: 1 }),
    });
    expect((await kv.read("subkeys/app", { depth: "1" }))?.data?.subkeys).toEqual({ user: null, db: null, empty: null });
    await kv.remove("data/app");
    const deleted = await expectLogicalError(kv.read("subkeys/app"), 404, "");
    expect(deleted.body).toMatchObject({ data: { subkeys: null, metadata: { version: 1 } } });
  });
});

describe("kv v2 paths outside the layout", () => {
  it("answers a bare path with 404 and a warning pointing to the versioned API", async () => {
    const kv = await setup();
    const error = await expectLogicalError(kv.write("app", { password: "x" }), 404, "");
    expect(error.body?.warnings).toEqual([expect.stringMatching(/^Invalid path for a versioned K\/V secrets engine.*'vault kv put'/)]);
    const listed = await expectLogicalError(kv.list("data/"), 404, "");
    expect(listed.body?.warnings).toEqual([expect.stringMatching(/'vault kv list'/)]);
  });

  it("answers non-list operations on a section root with 404 and a warning", async () => {
    const kv = await setup();
    const error = await expectLogicalError(kv.read("data"), 404, "");
    expect(error.body?.warnings).toEqual([expect.stringMatching(/"data\/" needs a secret path/)]);
  });

  it("rejects operations a path does not support with 405", async () => {
    const kv = await setup();
    await expectLogicalError(kv.remove("config"), 405, "unsupported operation");
    await expectLogicalError(kv.read("destroy/app"), 405, "unsupported operation");
  });
});
