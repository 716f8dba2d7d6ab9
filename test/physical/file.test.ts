import { mkdtemp, readdir, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createFileBackend } from "../../adapters/node/stores/file-backend.js";
import { ConfigError } from "../../src/config/types.js";
import { BackendInputError } from "../../src/physical/backend.js";
import { describeConformance, oddKeys } from "./conformance.js";

const base = await mkdtemp(join(tmpdir(), "strongbox-file-"));
afterAll(() => rm(base, { recursive: true, force: true }));

let count = 0;
const freshRoot = () => join(base, `b${count++}`, "data");

describeConformance("file", { create: () => createFileBackend({ path: freshRoot() }) });

/** Every path under `dir`, relative to it. */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String);
}

describe("file", () => {
  it("stays inside its directory whatever the key", async () => {
    const root = freshRoot();
    const backend = await createFileBackend({ path: root });
    const escapes = ["../x", "../../x", "a/../../x", "..", ".", "/abs", "a/./b", "\u0000nul"];
    for (const key of [...escapes, ...oddKeys]) await backend.put(key, new TextEncoder().encode(key));
    for (const key of escapes) expect(new TextDecoder().decode((await backend.get(key))!)).toBe(key);
    // Nothing was written beside the root.
    expect(await readdir(join(root, ".."))).toEqual(["data"]);
    for (const path of await walk(root)) expect(path.split("/")).not.toContain("..");
  });

  it("creates files 0600 and directories 0700, and leaves no temp files", async () => {
    const root = freshRoot();
    const backend = await createFileBackend({ path: root });
    await Promise.all(Array.from({ length: 20 }, (_, i) => backend.put("dir/sub/key", new Uint8Array([i]))));
    expect((await stat(root)).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, "dir"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, "dir", "sub"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, "dir", "sub", "_key"))).mode & 0o777).toBe(0o600);
    expect(await readdir(join(root, "dir", "sub"))).toEqual(["_key"]);
  });

  it("lists only what it wrote", async () => {
    const root = freshRoot();
    const backend = await createFileBackend({ path: root });
    await backend.put("k", new Uint8Array([1]));
    await writeFile(join(root, ".DS_Store"), "");
    await writeFile(join(root, "~leftover"), "");
    await mkdir(join(root, "not_ours"));
    expect(await backend.list("")).toEqual(["k"]);
  });

  it("refuses segments too long for a file name", async () => {
    const backend = await createFileBackend({ path: freshRoot() });
    await backend.put("a".repeat(254), new Uint8Array([1]));
    await expect(backend.put("a".repeat(255), new Uint8Array([1]))).rejects.toThrow(BackendInputError);
    await expect(backend.put(`${"é".repeat(50)}/x`, new Uint8Array([1]))).rejects.toThrow(/too long/);
  });

  it("requires a path", async () => {
    await expect(createFileBackend({})).rejects.toThrow(ConfigError);
    await expect(createFileBackend({})).rejects.toThrow(/path is required/);
  });
});
