import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningS3Server, startS3Server } from "../../tools/local-cluster/s3-server.js";
import { createS3Backend } from "../../src/physical/s3.js";
import { describeConformance, oddKeys } from "../physical/conformance.js";

/** The local cluster's S3 stand-in with a data folder: S3's behaviour, and the data survives a restart. */
const dataDir = mkdtempSync(join(tmpdir(), "strongbox-s3-folder-"));
const bucketDir = join(dataDir, "persisted");
let server: RunningS3Server = await startS3Server({ bucket: "persisted", dataDir });

afterAll(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const backendAt = (path: string) =>
  createS3Backend({ bucket: "persisted", endpoint: server.endpoint, s3_force_path_style: "true", access_key: "test", secret_key: "test", path }, {});

describeConformance("s3 stand-in on a folder", { create: () => backendAt(`run-${crypto.randomUUID()}`) });

describe("the S3 stand-in on a folder", () => {
  it("keeps what was written, and not what was deleted, across a restart, in 0600 files", async () => {
    const path = `restart-${crypto.randomUUID()}`;
    const longKey = `${"s".repeat(300)}/${"t".repeat(300)}`;
    const keys = [...oddKeys, longKey];
    const before = await backendAt(path);
    for (const [i, key] of keys.entries()) await before.put(key, new TextEncoder().encode(`value ${i}`));
    await before.put("gone/soon", new Uint8Array([1]));
    await before.delete("gone/soon");
    const listedBefore = await before.list("");

    await server.stop();
    // A write cut short by a crash leaves a temp file; the next start drops it.
    writeFileSync(join(bucketDir, "~interrupted"), "half");
    server = await startS3Server({ bucket: "persisted", dataDir });
    const after = await backendAt(path);

    for (const [i, key] of keys.entries()) expect(new TextDecoder().decode((await after.get(key))!)).toBe(`value ${i}`);
    expect(await after.get("gone/soon")).toBeNull();
    expect(await after.list("")).toEqual(listedBefore);
    expect(readdirSync(bucketDir).filter((name) => name.startsWith("~"))).toEqual([]);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(bucketDir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(bucketDir)) expect(statSync(join(bucketDir, name)).mode & 0o777).toBe(0o600);
  });

  it("keeps on disk what it served from memory when writes to one key race", async () => {
    const path = `race-${crypto.randomUUID()}`;
    const backend = await backendAt(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 5 === 4 ? backend.delete("k") : backend.put("k", new Uint8Array([i])))));
    const served = await backend.get("k");
    await server.stop();
    server = await startS3Server({ bucket: "persisted", dataDir });
    expect(await (await backendAt(path)).get("k")).toEqual(served);
  });
});
