import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runHvac } from "../helpers/hvac.js";

describe("hvac (Python) manages audit devices", () => {
  let server: DevServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-hvac-audit-"));
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("enables, lists, hashes with and disables a file device", async () => {
    const file = join(dir, "audit.log");
    const run = await runHvac(
      [
        `client.sys.enable_audit_device(device_type='file', description='hvac device', options={'file_path': ${JSON.stringify(file)}}, path='hvac')`,
        "listed = client.sys.list_enabled_audit_devices()",
        "hashed = client.sys.calculate_hash(path='hvac', input_to_hash='hvac-input')",
        "client.sys.disable_audit_device(path='hvac')",
        "after = client.sys.list_enabled_audit_devices()",
        "print(json.dumps({'listed': listed['data'], 'hash': hashed['data']['hash'], 'after': after['data']}))",
      ].join("\n"),
      { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken },
    );
    expect(run.stderr).toBe("");
    const out = JSON.parse(run.stdout);
    expect(out.listed["hvac/"]).toMatchObject({ type: "file", description: "hvac device", options: { file_path: file } });
    expect(out.hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(out.after).toEqual({});
    // The device saw hvac's own calls while it was enabled, the hash request among them, HMAC'd.
    const entries = readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const hashRequest = entries.find((entry) => entry.type === "request" && entry.request.path === "sys/audit-hash/hvac");
    expect(hashRequest.request.data.input).toBe(out.hash);
  });
});
