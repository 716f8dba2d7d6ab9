import { describe, expect, it } from "vitest";
import { kvEngine, kvV1, kvV2 } from "../../src/builtin/kv/index.js";
import { VAULT_LEASE_TTLS } from "../../src/sdk/lease-ttls.js";
import { engineClient, expectLogicalError, mountEntry } from "./kv-fixtures.js";

describe("kv v1", () => {
  it("stores and returns an arbitrary JSON object", async () => {
    const kv = engineClient(kvV1);
    const secret = { user: "admin", port: 5432, tags: ["a", "b"], nested: { ok: true } };
    expect(await kv.write("db/creds", secret)).toBeNull();
    expect(await kv.read("db/creds")).toEqual({
      data: secret,
      lease_duration: VAULT_LEASE_TTLS.defaultSeconds,
      renewable: false,
    });
  });

  it("overwrites on a second write (create and update behave alike)", async () => {
    const kv = engineClient(kvV1);
    await kv.call("create", "app", { a: "1" });
    await kv.call("update", "app", { b: "2" });
    expect((await kv.read("app"))?.data).toEqual({ b: "2" });
  });

  it("answers 404 with an empty errors list for a missing secret", async () => {
    const kv = engineClient(kvV1);
    await expectLogicalError(kv.read("nope"), 404, "");
  });

  it("rejects a write without data fields", async () => {
    const kv = engineClient(kvV1);
    await expectLogicalError(kv.write("empty", {}), 400, "missing data fields");
  });

  it("rejects a write to the mount root or to a folder-like path", async () => {
    const kv = engineClient(kvV1);
    await expectLogicalError(kv.write("", { a: 1 }), 400, "missing path");
    await expectLogicalError(kv.write("folder/", { a: 1 }), 400, /must not end with '\/'/);
  });

  it("reflects a ttl field as the lease duration and keeps it in the data", async () => {
    const kv = engineClient(kvV1);
    await kv.write("hour", { value: "x", ttl: "1h" });
    await kv.write("seconds", { value: "x", ttl: 90 });
    await kv.write("text-seconds", { value: "x", ttl: "30" });
    await kv.write("bogus", { value: "x", ttl: "soon" });
    expect(await kv.read("hour")).toMatchObject({ lease_duration: 3600, data: { ttl: "1h" } });
    expect(await kv.read("seconds")).toMatchObject({ lease_duration: 90 });
    expect(await kv.read("text-seconds")).toMatchObject({ lease_duration: 30 });
    expect(await kv.read("bogus")).toMatchObject({ lease_duration: VAULT_LEASE_TTLS.defaultSeconds });
  });

  it("uses the mount's default lease TTL when the secret has no ttl", async () => {
    const kv = engineClient(kvV1, mountEntry({ config: { default_lease_ttl: 600, max_lease_ttl: 0 } }));
    await kv.write("s", { v: "1" });
    expect(await kv.read("s")).toMatchObject({ lease_duration: 600 });
  });

  it("deletes, and deleting a missing secret still succeeds", async () => {
    const kv = engineClient(kvV1);
    await kv.write("gone", { v: "1" });
    expect(await kv.remove("gone")).toBeNull();
    await expectLogicalError(kv.read("gone"), 404, "");
    expect(await kv.remove("never-existed")).toBeNull();
  });

  it("lists immediate children, folders suffixed with '/'", async () => {
    const kv = engineClient(kvV1);
    await kv.write("a/x", { v: 1 });
    await kv.write("a/y/z", { v: 1 });
    await kv.write("b", { v: 1 });
    expect(await kv.list("")).toEqual({ data: { keys: ["a/", "b"] } });
    expect(await kv.list("a/")).toEqual({ data: { keys: ["x", "y/"] } });
    expect(await kv.list("a")).toEqual({ data: { keys: ["x", "y/"] } });
  });

  it("lists no keys when nothing is there (the router turns that into Vault's 404)", async () => {
    const kv = engineClient(kvV1);
    expect(await kv.list("")).toEqual({ data: { keys: [] } });
    expect(await kv.list("missing/")).toEqual({ data: { keys: [] } });
  });

  it("does not support patch", async () => {
    const kv = engineClient(kvV1);
    await expectLogicalError(kv.patch("s", { v: 1 }), 405, "unsupported operation");
  });
});

describe("kvEngine", () => {
  it("chooses the engine from the mount type and options.version", () => {
    expect(kvEngine(mountEntry({ type: "kv" }))).toBe(kvV1);
    expect(kvEngine(mountEntry({ type: "kv", options: { version: "1" } }))).toBe(kvV1);
    expect(kvEngine(mountEntry({ type: "kv", options: { version: "2" } }))).toBe(kvV2);
    expect(kvEngine(mountEntry({ type: "kv-v2" }))).toBe(kvV2);
  });

  it("rejects an unknown version", () => {
    expect(() => kvEngine(mountEntry({ options: { version: "3" } }))).toThrow(/invalid kv version "3"/);
  });
});
