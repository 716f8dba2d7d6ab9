/** The built `strongbox` CLI, as a user runs it, against real server processes. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { freePort } from "../helpers/free-port.js";
import { runCli as strongbox, type ServerProcess, startServerProcess } from "../helpers/server-process.js";

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "strongbox-e2e-home-"));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("strongbox CLI against `strongbox server -dev`", () => {
  let server: DevServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    server = await startDevServer({ rootToken: "e2e-root-token" });
    env = { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken, HOME: home };
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("reports an unsealed, initialized node with exit 0", async () => {
    const table = await strongbox(["status"], env);
    expect(table).toMatchObject({ code: 0, stderr: "" });
    expect(table.stdout).toMatch(/^Initialized\s+true$/m);
    expect(table.stdout).toMatch(/^Sealed\s+false$/m);
    const json = await strongbox(["status", "-format=json"], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ initialized: true, sealed: false, type: "shamir" });
  });

  it("writes, reads, versions, lists and deletes a KV v2 secret", async () => {
    const put = await strongbox(["kv", "put", "secret/e2e/app", "user=admin", "password=hunter2"], env);
    expect(put).toMatchObject({ code: 0, stderr: "" });
    expect(put.stdout).toMatch(/^=+ Secret Path =+\nsecret\/data\/e2e\/app\n/);
    expect(put.stdout).toMatch(/^version\s+1$/m);

    const get = await strongbox(["kv", "get", "secret/e2e/app"], env);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^=+ Data =+\nKey\s+Value\n---\s+-----\npassword\s+hunter2\nuser\s+admin$/m);
    expect(await strongbox(["kv", "get", "-field=password", "secret/e2e/app"], env)).toEqual({ code: 0, stdout: "hunter2", stderr: "" });

    // Check-and-set: 0 means "only if absent", so it fails now; the current version succeeds.
    const conflict = await strongbox(["kv", "put", "-cas=0", "secret/e2e/app", "password=x"], env);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/^Error: writing data to secret\/data\/e2e\/app: HTTP 400: .*check-and-set/);
    const second = await strongbox(["kv", "put", "-mount=secret", "-cas=1", "e2e/app", "password=correct-horse"], env);
    expect(second.stdout).toMatch(/^version\s+2$/m);

    expect((await strongbox(["kv", "get", "-version=1", "-field=password", "secret/e2e/app"], env)).stdout).toBe("hunter2");
    const json = JSON.parse((await strongbox(["kv", "get", "-format=json", "-mount=secret", "e2e/app"], env)).stdout);
    // A put replaces the whole secret: version 2 has no "user".
    expect(json.data.data).toEqual({ password: "correct-horse" });
    expect(json.data.metadata).toMatchObject({ version: 2 });

    expect(await strongbox(["kv", "list", "secret/e2e"], env)).toMatchObject({ code: 0, stdout: "Keys\n----\napp\n" });
    expect(JSON.parse((await strongbox(["kv", "list", "-format=json", "secret/"], env)).stdout)).toEqual(["e2e/"]);

    const metadata = await strongbox(["kv", "metadata", "get", "secret/e2e/app"], env);
    expect(metadata.stdout).toMatch(/^current_version\s+2$/m);
    expect(metadata.stdout).toMatch(/=+ Version 1 =+[\s\S]*=+ Version 2 =+/);

    expect((await strongbox(["kv", "delete", "secret/e2e/app"], env)).stdout).toBe("Success! Data deleted (if it existed) at: secret/data/e2e/app\n");
    expect(await strongbox(["kv", "get", "-field=password", "secret/e2e/app"], env)).toMatchObject({ code: 2 });

    expect((await strongbox(["kv", "metadata", "delete", "secret/e2e/app"], env)).code).toBe(0);
    expect(await strongbox(["kv", "get", "secret/e2e/app"], env)).toEqual({ code: 2, stdout: "", stderr: "Error: no value found at secret/data/e2e/app\n" });
  });

  it("reads data from stdin", async () => {
    expect((await strongbox(["kv", "put", "secret/e2e/stdin", "-"], env, '{"a":"from-json"}')).code).toBe(0);
    expect((await strongbox(["kv", "put", "secret/e2e/stdin2", "b=-"], env, "line one\nline two")).code).toBe(0);
    expect((await strongbox(["kv", "get", "-field=a", "secret/e2e/stdin"], env)).stdout).toBe("from-json");
    expect((await strongbox(["kv", "get", "-field=b", "secret/e2e/stdin2"], env)).stdout).toBe("line one\nline two");
  });

  it("uses ~/.vault-token when VAULT_TOKEN is unset", async () => {
    const tokenHome = mkdtempSync(join(tmpdir(), "strongbox-e2e-token-"));
    writeFileSync(join(tokenHome, ".vault-token"), `${server.rootToken}\n`);
    expect((await strongbox(["kv", "put", "secret/e2e/token-file", "a=1"], { VAULT_ADDR: server.addr, HOME: tokenHome })).code).toBe(0);
    rmSync(tokenHome, { recursive: true, force: true });
  });

  it("fails with exit 2 and the server's error for a bad token, without printing the token", async () => {
    const result = await strongbox(["kv", "get", "secret/e2e/app"], { ...env, VAULT_TOKEN: "not-a-real-token-8d2f" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Error: .*HTTP 403: 2 errors occurred:\n\t\* permission denied\n\t\* invalid token\n/);
    expect(result.stderr).not.toContain("not-a-real-token-8d2f");
  });

  it("seals (status exit 2), then unseals with the key piped on stdin", async () => {
    expect(await strongbox(["operator", "seal"], env)).toMatchObject({ code: 0, stdout: "Success! Strongbox is sealed.\n" });
    const sealed = await strongbox(["status"], env);
    expect(sealed.code).toBe(2);
    expect(sealed.stdout).toMatch(/^Sealed\s+true$/m);
    expect(sealed.stdout).toMatch(/^Unseal Progress\s+0\/1$/m);
    expect((await strongbox(["kv", "get", "secret/e2e/stdin"], env)).stderr).toContain("HTTP 503: Vault is sealed");

    const unseal = await strongbox(["operator", "unseal"], env, `${server.unsealKey}\n`);
    expect(unseal.code).toBe(0);
    expect(unseal.stdout).toMatch(/^Sealed\s+false$/m);
    expect(unseal.stdout + unseal.stderr).not.toContain(server.unsealKey);
    expect((await strongbox(["status"], env)).code).toBe(0);
  });
});

describe("strongbox CLI against a fresh server (operator init and unseal)", () => {
  let dir: string;
  let server: ServerProcess;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-e2e-init-"));
    const port = await freePort();
    const config = join(dir, "server.hcl");
    writeFileSync(
      config,
      [
        `storage "inmem" {}`,
        `listener "tcp" {`,
        `  address     = "127.0.0.1:${port}"`,
        `  tls_disable = true`,
        `}`,
        `api_addr = "http://127.0.0.1:${port}"`,
      ].join("\n"),
    );
    server = await startServerProcess([`-config=${config}`]);
    env = { VAULT_ADDR: server.apiAddr, HOME: home };
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("initializes with 3 shares / threshold 2, unseals with two keys, then serves the root token", async () => {
    expect(await strongbox(["operator", "init", "-status"], env)).toMatchObject({ code: 2, stdout: "Strongbox is not initialized\n" });
    expect((await strongbox(["status"], env)).code).toBe(2);

    const init = await strongbox(["operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"], env);
    expect(init.code).toBe(0);
    const { unseal_keys_b64: keys, root_token: rootToken, unseal_threshold } = JSON.parse(init.stdout);
    expect(keys).toHaveLength(3);
    expect(unseal_threshold).toBe(2);

    const first = await strongbox(["operator", "unseal", keys[0]], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Unseal Progress\s+1\/2$/m);
    const reset = await strongbox(["operator", "unseal", "-reset"], env);
    expect(reset.stdout).toMatch(/^Unseal Progress\s+0\/2$/m);
    await strongbox(["operator", "unseal", keys[2]], env);
    const done = await strongbox(["operator", "unseal", keys[1]], env);
    expect(done.stdout).toMatch(/^Sealed\s+false$/m);

    expect(await strongbox(["operator", "init", "-status"], env)).toMatchObject({ code: 0 });
    expect((await strongbox(["status"], env)).code).toBe(0);
    // A fresh server has no KV mount: the CLI says why it cannot go on.
    const noMount = await strongbox(["kv", "get", "secret/x"], { ...env, VAULT_TOKEN: rootToken });
    expect(noMount.code).toBe(2);
    expect(noMount.stderr).toMatch(/^Error: looking up the secrets engine for secret\/x: HTTP \d{3}: /);
  });
});

describe("strongbox CLI without a server", () => {
  it("says the address cannot be reached (status exit 1, other commands exit 2)", async () => {
    const env = { VAULT_ADDR: "http://127.0.0.1:1", VAULT_TOKEN: "t", HOME: home };
    expect(await strongbox(["status"], env)).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: checking seal status: cannot reach http://127.0.0.1:1: connection refused\n",
    });
    expect(await strongbox(["kv", "get", "secret/x"], env)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("cannot reach http://127.0.0.1:1: connection refused"),
    });
  });

  it("prints usage with exit 127 for no or an unknown command, and the version", async () => {
    expect(await strongbox([], { HOME: home })).toMatchObject({ code: 127, stderr: expect.stringContaining("Usage: strongbox <command>") });
    expect(await strongbox(["nope"], { HOME: home })).toMatchObject({ code: 127 });
    expect(await strongbox(["version"], { HOME: home })).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Strongbox v/) });
  });
});
