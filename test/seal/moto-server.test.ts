import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MOTO_INSTALL_HINT, startMotoServer } from "../helpers/moto-server.js";

describe("the KMS emulator's start-up", () => {
  const dir = mkdtempSync(join(tmpdir(), "no-moto-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("says how to install moto when Python is missing", async () => {
    await expect(startMotoServer(join(dir, "no-such-python3"))).rejects.toThrow(MOTO_INSTALL_HINT);
  });

  it("says how to install moto when Python has no moto module", async () => {
    const python = join(dir, "python3");
    writeFileSync(python, '#!/bin/sh\necho "$0: No module named moto" >&2\nexit 1\n');
    chmodSync(python, 0o755);
    await expect(startMotoServer(python)).rejects.toThrow(MOTO_INSTALL_HINT);
  });
});
