/**
 * The client commands in-process against stub HTTP(S) servers: the requests they make (paths,
 * bodies, headers), what they print, their exit codes, redirects, TLS options and error reporting.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "../../adapters/node/cli/command.js";
import { runCli } from "../../adapters/node/cli/index.js";
import { addPrefixToKvPath, parseKvData } from "../../adapters/node/cli/kv.js";
import { UsageError } from "../../adapters/node/cli/flags.js";
import { generateClusterIdentity } from "../../src/ha/identity.js";

interface StubRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
}
interface StubReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}
type Handler = (request: StubRequest) => StubReply | undefined;

interface Stub {
  addr: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

const stubs: Stub[] = [];

/** A server answering with `handler` (unhandled: 404 with no errors, as Vault answers a missing secret). */
async function startStub(handler: Handler, tls?: { cert: string; key: string }): Promise<Stub> {
  const requests: StubRequest[] = [];
  const listener = (message: IncomingMessage, response: ServerResponse) => {
    let text = "";
    message.on("data", (chunk) => (text += chunk));
    message.on("end", () => {
      const url = new URL(message.url!, "http://stub");
      const request = {
        method: message.method!,
        path: url.pathname,
        query: url.searchParams,
        headers: message.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      requests.push(request);
      const reply = handler(request) ?? { status: 404, body: { errors: [] } };
      response.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
      response.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
    });
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const stub = {
    addr: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  stubs.push(stub);
  return stub;
}

let homeDir: string;
beforeAll(() => {
  homeDir = mkdtempSync(join(tmpdir(), "strongbox-cli-home-"));
});
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});
afterAll(() => rmSync(homeDir, { recursive: true, force: true }));

async function run(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string; tty?: boolean; home?: string } = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: options.env ?? {},
    homeDir: options.home ?? homeDir,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

const TOKEN = "stub-token-4f1d";

function envFor(stub: Stub, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { VAULT_ADDR: stub.addr, VAULT_TOKEN: TOKEN, ...extra };
}

/** `secret/` is KV v2 and `kv1/` KV v1, as sys/internal/ui/mounts reports them. */
function mounts(request: StubRequest): StubReply | undefined {
  const match = /^\/v1\/sys\/internal\/ui\/mounts\/(.*)$/.exec(request.path);
  if (!match) return undefined;
  if (match[1]!.startsWith("secret")) return { body: { data: { path: "secret/", type: "kv", options: { version: "2" } } } };
  if (match[1]!.startsWith("kv1")) return { body: { data: { path: "kv1/", type: "kv", options: { version: "1" } } } };
  return { status: 403, body: { errors: ["preflight capability check returned 403"] } };
}

const SEAL_STATUS = {
  type: "shamir",
  initialized: true,
  sealed: false,
  t: 1,
  n: 1,
  progress: 0,
  nonce: "",
  version: "0.1.0",
  build_date: "",
  storage_type: "inmem",
};
const NOT_HA = { ha_enabled: false, is_self: false, active_time: "0001-01-01T00:00:00Z", leader_address: "", leader_cluster_address: "" };

function sealAndLeader(status: object, leader: StubReply): Handler {
  return (request) => {
    if (request.path === "/v1/sys/seal-status") return { body: status };
    if (request.path === "/v1/sys/leader") return leader;
    return undefined;
  };
}

describe("dispatch", () => {
  it("prints usage and exits 127 with no command or an unknown one, as Vault's CLI", async () => {
    const none = await run([]);
    expect(none).toMatchObject({ code: 127, stdout: "" });
    expect(none.stderr).toContain("Usage: strongbox <command> [args]");
    const unknown = await run(["frobnicate"]);
    expect(unknown.code).toBe(127);
    expect(unknown.stderr).toMatch(/^Error: unknown command "frobnicate"/);
  });

  it("prints help on stdout with exit 0 for -h, -help and --help, anywhere in the arguments", async () => {
    expect(await run(["-h"])).toMatchObject({ code: 0, stdout: expect.stringContaining("Usage: strongbox <command>") });
    expect(await run(["kv", "get", "secret/x", "--help"])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("Usage: strongbox kv get [options] PATH"),
    });
    expect(await run(["operator", "-help"])).toMatchObject({ code: 0, stdout: expect.stringContaining("unseal") });
  });

  it("lists a group's subcommands and exits 1 when the subcommand is missing or unknown", async () => {
    const kv = await run(["kv"]);
    expect(kv.code).toBe(1);
    expect(kv.stderr).toMatch(/Subcommands:\n\s+delete\s+.*\n\s+get\s+/);
    const unknown = await run(["kv", "metadata", "frob"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Error: unknown command "kv metadata frob"');
  });

  it("prints the version for `version`, -v, -version and --version", async () => {
    for (const args of [["version"], ["-v"], ["-version"], ["--version"]]) {
      expect(await run(args)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Strongbox v\d+\.\d+\.\d+\n$/) });
    }
  });

  it("exits 1 with one error line naming the problem for bad flags and arguments", async () => {
    const flag = await run(["kv", "get", "-nope", "secret/x"]);
    expect(flag).toMatchObject({ code: 1, stdout: "" });
    expect(flag.stderr).toBe('Error: unknown flag -nope\nRun "strongbox kv get -h" for usage.\n');
    expect((await run(["kv", "get"])).stderr).toContain("not enough arguments (expected 1, got 0)");
    expect((await run(["kv", "get", "a", "b"])).stderr).toContain("too many arguments (expected 1, got 2)");
    expect((await run(["kv", "put", "secret/x"])).stderr).toContain("no data given");
    expect(await run(["status", "-format=yaml"])).toMatchObject({ code: 1, stderr: expect.stringContaining('unsupported output format "yaml"') });
    expect(await run(["status"], { env: { VAULT_FORMAT: "xml" } })).toMatchObject({ code: 1 });
    expect(await run(["-address=http://x", "status"])).toMatchObject({ code: 1, stderr: expect.stringContaining("flags must come after the command") });
    expect(await run(["status", "-address=ftp://x"])).toMatchObject({ code: 1, stderr: expect.stringContaining("only http:// and https://") });
  });
});

describe("operator init", () => {
  const reply: Handler = (request) =>
    request.path === "/v1/sys/init" && request.method === "PUT"
      ? { body: { keys: ["0a0b", "0c0d", "0e0f"], keys_base64: ["Cgs=", "DA0=", "Dg8="], root_token: "s.root" } }
      : request.path === "/v1/sys/init"
        ? { body: { initialized: false } }
        : undefined;

  it("sends the shares and threshold and prints base64 keys and the root token as Vault does", async () => {
    const stub = await startStub(reply);
    const { code, stdout } = await run(["operator", "init", "-key-shares=3", "-key-threshold", "2"], { env: envFor(stub) });
    expect(code).toBe(0);
    expect(stub.requests.at(-1)).toMatchObject({ method: "PUT", body: { secret_shares: 3, secret_threshold: 2 } });
    expect(stdout).toMatch(/^Unseal Key 1: Cgs=\nUnseal Key 2: DA0=\nUnseal Key 3: Dg8=\n\nInitial Root Token: s\.root\n\n/);
    expect(stdout).toContain("key threshold of 2");
  });

  it("defaults to 5 shares and a threshold of 3", async () => {
    const stub = await startStub(reply);
    await run(["operator", "init"], { env: envFor(stub) });
    expect(stub.requests.at(-1)!.body).toEqual({ secret_shares: 5, secret_threshold: 3 });
  });

  it("prints Vault's machine-readable shape with -format=json", async () => {
    const stub = await startStub(reply);
    const { code, stdout } = await run(["operator", "init", "-n=3", "-t=2", "-format=json"], { env: envFor(stub) });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      unseal_keys_b64: ["Cgs=", "DA0=", "Dg8="],
      unseal_keys_hex: ["0a0b", "0c0d", "0e0f"],
      unseal_shares: 3,
      unseal_threshold: 2,
      recovery_keys_b64: [],
      recovery_keys_hex: [],
      recovery_keys_shares: 0,
      recovery_keys_threshold: 0,
      root_token: "s.root",
    });
  });

  it("with an auto-unseal seal, asks for recovery keys and prints them as Vault does", async () => {
    const stub = await startStub((request) =>
      request.path === "/v1/sys/seal-status"
        ? { body: { type: "awskms", recovery_seal: true, initialized: false } }
        : request.path === "/v1/sys/init" && request.method === "PUT"
          ? { body: { keys: [], keys_base64: [], recovery_keys: ["0a0b", "0c0d"], recovery_keys_base64: ["Cgs=", "DA0="], root_token: "s.root" } }
          : undefined,
    );
    const { code, stdout } = await run(["operator", "init", "-recovery-shares=2", "-recovery-threshold=2"], { env: envFor(stub) });
    expect(code).toBe(0);
    expect(stub.requests.at(-1)).toMatchObject({ method: "PUT", body: { recovery_shares: 2, recovery_threshold: 2 } });
    expect(stdout).toMatch(
      /^Recovery Key 1: Cgs=\nRecovery Key 2: DA0=\n\nInitial Root Token: s\.root\n\nSuccess! Strongbox is initialized\n\nRecovery key initialized with 2 key shares and a key threshold of 2\./,
    );
    expect(stdout).not.toContain("Unseal Key");
    const json = await run(["operator", "init", "-format=json"], { env: envFor(stub) });
    expect(stub.requests.at(-1)!.body).toEqual({ recovery_shares: 5, recovery_threshold: 3 });
    expect(JSON.parse(json.stdout)).toEqual({
      unseal_keys_b64: [],
      unseal_keys_hex: [],
      unseal_shares: 1,
      unseal_threshold: 1,
      recovery_keys_b64: ["Cgs=", "DA0="],
      recovery_keys_hex: ["0a0b", "0c0d"],
      recovery_keys_shares: 5,
      recovery_keys_threshold: 3,
      root_token: "s.root",
    });
  });

  it("-status exits 2 when not initialized, 0 when initialized, 1 on error", async () => {
    const stub = await startStub(reply);
    expect(await run(["operator", "init", "-status"], { env: envFor(stub) })).toMatchObject({ code: 2, stdout: "Strongbox is not initialized\n" });
    const initialized = await startStub(() => ({ body: { initialized: true } }));
    expect(await run(["operator", "init", "-status"], { env: envFor(initialized) })).toMatchObject({ code: 0 });
    expect(await run(["operator", "init", "-status"], { env: { VAULT_ADDR: "http://127.0.0.1:1" } })).toMatchObject({ code: 1 });
  });

  it("reports the server's refusal with exit 2", async () => {
    const stub = await startStub(() => ({ status: 400, body: { errors: ["Vault is already initialized"] } }));
    expect(await run(["operator", "init"], { env: envFor(stub) })).toEqual({
      code: 2,
      stdout: "",
      stderr: "Error: initializing: HTTP 400: Vault is already initialized\n",
    });
  });
});

describe("operator unseal", () => {
  const unsealed = { ...SEAL_STATUS, sealed: false };
  const handler: Handler = (request) => {
    if (request.path === "/v1/sys/unseal") return { body: unsealed };
    if (request.path === "/v1/sys/leader") return { body: NOT_HA };
    return undefined;
  };

  it("reads the key from the first line of stdin when it is not a terminal", async () => {
    const stub = await startStub(handler);
    const { code, stdout } = await run(["operator", "unseal"], { env: envFor(stub), stdin: "  a2V5LXNoYXJl \nignored\n" });
    expect(code).toBe(0);
    expect(stub.requests[0]).toMatchObject({ method: "PUT", body: { key: "a2V5LXNoYXJl" } });
    expect(stdout).toMatch(/^Sealed\s+false$/m);
  });

  it("takes the key as an argument, and -reset instead of a key", async () => {
    const stub = await startStub(handler);
    await run(["operator", "unseal", "a2V5"], { env: envFor(stub) });
    await run(["operator", "unseal", "-reset"], { env: envFor(stub) });
    expect(stub.requests.filter((r) => r.path === "/v1/sys/unseal").map((r) => r.body)).toEqual([{ key: "a2V5" }, { reset: true }]);
  });

  it("-migrate sends the key with migrate: true (seal migration)", async () => {
    const stub = await startStub(handler);
    await run(["operator", "unseal", "-migrate", "a2V5"], { env: envFor(stub) });
    expect(stub.requests.filter((r) => r.path === "/v1/sys/unseal").map((r) => r.body)).toEqual([{ key: "a2V5", migrate: true }]);
  });

  it("never repeats the key or the token in an error", async () => {
    const stub = await startStub(() => ({ status: 400, body: { errors: [`bad key "c2VjcmV0LWtleQ==" for token ${TOKEN}`] } }));
    const { code, stderr } = await run(["operator", "unseal", "c2VjcmV0LWtleQ=="], { env: envFor(stub) });
    expect(code).toBe(2);
    expect(stderr).toBe('Error: unsealing: HTTP 400: bad key "<redacted>" for token <redacted>\n');
  });

  it("refuses an empty key without asking the server", async () => {
    const stub = await startStub(handler);
    expect(await run(["operator", "unseal"], { env: envFor(stub), stdin: "\n" })).toMatchObject({ code: 1, stderr: "Error: no unseal key given\n" });
    expect(stub.requests).toEqual([]);
  });
});

describe("operator seal", () => {
  it("PUTs sys/seal with the token", async () => {
    const stub = await startStub((request) => (request.path === "/v1/sys/seal" ? { status: 204 } : undefined));
    expect(await run(["operator", "seal"], { env: envFor(stub) })).toMatchObject({ code: 0, stdout: "Success! Strongbox is sealed.\n" });
    expect(stub.requests[0]).toMatchObject({ method: "PUT", headers: { "x-vault-token": TOKEN, "x-vault-request": "true" } });
  });
});

describe("status", () => {
  it("exits 0 when unsealed and prints Vault's rows", async () => {
    const stub = await startStub(sealAndLeader(SEAL_STATUS, { body: NOT_HA }));
    const { code, stdout } = await run(["status"], { env: envFor(stub) });
    expect(code).toBe(0);
    expect(stdout.split("\n").map((line) => line.split(/\s{2,}/)[0])).toEqual([
      "Key",
      "---",
      "Seal Type",
      "Initialized",
      "Sealed",
      "Total Shares",
      "Threshold",
      "Version",
      "Build Date",
      "Storage Type",
      "HA Enabled",
      "",
    ]);
  });

  it("exits 2 when sealed, taking a sealed sys/leader to mean HA as Vault's CLI does", async () => {
    const stub = await startStub(
      sealAndLeader({ ...SEAL_STATUS, sealed: true, t: 3, n: 5, progress: 2, nonce: "n-1" }, { status: 503, body: { errors: ["Vault is sealed"] } }),
    );
    const { code, stdout } = await run(["status"], { env: envFor(stub) });
    expect(code).toBe(2);
    expect(stdout).toMatch(/^Unseal Progress\s+2\/3$/m);
    expect(stdout).toMatch(/^HA Enabled\s+true$/m);
  });

  it("shows a standby's active node, and HA fields in JSON", async () => {
    const leader = {
      ha_enabled: true,
      is_self: false,
      active_time: "0001-01-01T00:00:00Z",
      leader_address: "http://10.0.0.9:8200",
      leader_cluster_address: "https://10.0.0.9:8201",
    };
    const stub = await startStub(sealAndLeader(SEAL_STATUS, { body: leader }));
    const table = await run(["status"], { env: envFor(stub) });
    expect(table.stdout).toMatch(/^HA Mode\s+standby$/m);
    expect(table.stdout).toMatch(/^Active Node Address\s+http:\/\/10\.0\.0\.9:8200$/m);
    const json = await run(["status", "-format=json"], { env: envFor(stub) });
    expect(JSON.parse(json.stdout)).toMatchObject({ sealed: false, ha_enabled: true, is_self: false, leader_address: "http://10.0.0.9:8200" });
    expect(await run(["status", "-field=leader_address"], { env: envFor(stub) })).toMatchObject({ code: 0, stdout: "http://10.0.0.9:8200" });
  });

  it("exits 1 (not 2, which means sealed) when the server cannot be reached", async () => {
    expect(await run(["status"], { env: { VAULT_ADDR: "http://127.0.0.1:1" } })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: checking seal status: cannot reach http://127.0.0.1:1: connection refused\n",
    });
  });
});

describe("kv", () => {
  it("inserts data/ for KV v2 and wraps the data with check-and-set options", async () => {
    const stub = await startStub(
      (request) => mounts(request) ?? { body: { data: { version: 4, created_time: "t", deletion_time: "", destroyed: false, custom_metadata: null } } },
    );
    const { code, stdout } = await run(["kv", "put", "-cas=3", "secret/app/db", "user=admin", "tags=a", "tags=b"], { env: envFor(stub) });
    expect(code).toBe(0);
    expect(stub.requests[0]!.path).toBe("/v1/sys/internal/ui/mounts/secret/app/db");
    expect(stub.requests[1]).toMatchObject({
      method: "PUT",
      path: "/v1/secret/data/app/db",
      body: { data: { user: "admin", tags: ["a", "b"] }, options: { cas: 3 } },
    });
    expect(stdout).toBe(
      [
        "=== Secret Path ===",
        "secret/data/app/db",
        "",
        "======= Metadata =======",
        "Key                Value",
        "---                -----",
        "created_time       t",
        "custom_metadata    <nil>",
        "deletion_time      n/a",
        "destroyed          false",
        "version            4",
        "",
      ].join("\n"),
    );
  });

  it("accepts -mount=secret with a path inside the mount", async () => {
    const stub = await startStub((request) => mounts(request) ?? { body: { data: { data: { a: "1" }, metadata: { version: 2 } } } });
    await run(["kv", "get", "-mount=secret", "-version=2", "app"], { env: envFor(stub) });
    expect(stub.requests[0]!.path).toBe("/v1/sys/internal/ui/mounts/secret");
    expect(stub.requests[1]).toMatchObject({ method: "GET", path: "/v1/secret/data/app" });
    expect(stub.requests[1]!.query.get("version")).toBe("2");
  });

  it("prints a KV v2 secret's metadata and data, -field bare when piped, with a newline on a terminal", async () => {
    const stub = await startStub(
      (request) => mounts(request) ?? { body: { data: { data: { password: "hunter2", data: "inner" }, metadata: { version: 1 } } } },
    );
    const { stdout } = await run(["kv", "get", "secret/app"], { env: envFor(stub) });
    expect(stdout).toContain("= Secret Path =\nsecret/data/app\n\n");
    expect(stdout).toContain("=== Metadata ===\nKey        Value\n---        -----\nversion    1\n\n");
    expect(stdout).toContain("====== Data ======\nKey         Value\n---         -----\ndata        inner\npassword    hunter2\n");
    expect(await run(["kv", "get", "-field=password", "secret/app"], { env: envFor(stub) })).toMatchObject({ code: 0, stdout: "hunter2" });
    expect(await run(["kv", "get", "-field=password", "secret/app"], { env: envFor(stub), tty: true })).toMatchObject({ stdout: "hunter2\n" });
    expect(await run(["kv", "get", "-field=data", "secret/app"], { env: envFor(stub) })).toMatchObject({ stdout: "inner" });
    expect(await run(["kv", "get", "-field=nope", "secret/app"], { env: envFor(stub) })).toMatchObject({
      code: 1,
      stderr: 'Error: field "nope" not present in the secret\n',
    });
  });

  it("prints the raw API response with -format=json", async () => {
    const body = { request_id: "r", data: { data: { a: "1" }, metadata: { version: 1 } }, warnings: null };
    const stub = await startStub((request) => mounts(request) ?? { body });
    expect(JSON.parse((await run(["kv", "get", "-format=json", "secret/app"], { env: envFor(stub) })).stdout)).toEqual(body);
  });

  it("uses the path as given on KV v1, with -mount joined to it", async () => {
    const stub = await startStub((request) => mounts(request) ?? { body: { lease_duration: 2764800, data: { a: "1" } } });
    const { stdout } = await run(["kv", "get", "kv1/app"], { env: envFor(stub) });
    await run(["kv", "get", "-mount=kv1", "app"], { env: envFor(stub) });
    await run(["kv", "put", "kv1/app", "a=1"], { env: envFor(stub) });
    expect(stub.requests.filter((r) => !r.path.startsWith("/v1/sys/")).map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /v1/kv1/app",
      "GET /v1/kv1/app",
      "PUT /v1/kv1/app",
    ]);
    expect(stub.requests.at(-1)!.body).toEqual({ a: "1" });
    expect(stdout).toBe("== Data ==\nKey    Value\n---    -----\na      1\n");
  });

  it("falls back to KV v1 paths when the server has no mounts endpoint", async () => {
    const stub = await startStub((request) => (request.path === "/v1/old/app" ? { body: { data: { a: "1" } } } : undefined));
    expect(await run(["kv", "get", "-field=a", "old/app"], { env: envFor(stub) })).toMatchObject({ code: 0, stdout: "1" });
  });

  it("says no value was found (exit 2) on a 404", async () => {
    const stub = await startStub(mounts);
    expect(await run(["kv", "get", "secret/missing"], { env: envFor(stub) })).toEqual({
      code: 2,
      stdout: "",
      stderr: "Error: no value found at secret/data/missing\n",
    });
  });

  it("lists with GET ?list=true under metadata/ and prints sorted keys, or the JSON array", async () => {
    const stub = await startStub((request) => mounts(request) ?? { body: { data: { keys: ["b", "a/"] } } });
    expect((await run(["kv", "list", "secret/app"], { env: envFor(stub) })).stdout).toBe("Keys\n----\na/\nb\n");
    expect(stub.requests[1]).toMatchObject({ method: "GET", path: "/v1/secret/metadata/app/" });
    expect(stub.requests[1]!.query.get("list")).toBe("true");
    expect(JSON.parse((await run(["kv", "list", "-format=json", "-mount=secret"], { env: envFor(stub) })).stdout)).toEqual(["b", "a/"]);
    expect(stub.requests.at(-1)!.path).toBe("/v1/secret/metadata/");
  });

  it("deletes the latest version, given versions, or all metadata", async () => {
    const stub = await startStub((request) => mounts(request) ?? { status: 204 });
    expect((await run(["kv", "delete", "secret/app"], { env: envFor(stub) })).stdout).toBe("Success! Data deleted (if it existed) at: secret/data/app\n");
    await run(["kv", "delete", "-versions=1,2", "-versions", "5", "secret/app"], { env: envFor(stub) });
    expect((await run(["kv", "metadata", "delete", "secret/app"], { env: envFor(stub) })).stdout).toBe(
      "Success! Data deleted (if it existed) at: secret/metadata/app\n",
    );
    const writes = stub.requests.filter((r) => !r.path.startsWith("/v1/sys/"));
    expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual(["DELETE /v1/secret/data/app", "PUT /v1/secret/delete/app", "DELETE /v1/secret/metadata/app"]);
    expect(writes[1]!.body).toEqual({ versions: ["1", "2", "5"] });
  });

  it("prints metadata and each version in order", async () => {
    const data = { current_version: 10, max_versions: 0, versions: { "10": { destroyed: false }, "9": { destroyed: true } } };
    const stub = await startStub((request) => mounts(request) ?? { body: { data } });
    const { stdout } = await run(["kv", "metadata", "get", "secret/app"], { env: envFor(stub) });
    expect(stdout.indexOf("Version 9")).toBeGreaterThan(stdout.indexOf("current_version"));
    expect(stdout.indexOf("Version 10")).toBeGreaterThan(stdout.indexOf("Version 9"));
    expect(stdout).not.toMatch(/^versions/m);
    expect(await run(["kv", "metadata", "get", "kv1/app"], { env: envFor(stub) })).toMatchObject({ code: 1, stderr: expect.stringContaining("KV version 2") });
  });

  it("reports API errors with the status and the server's errors, exit 2, never the token", async () => {
    const stub = await startStub((request) => mounts(request) ?? { status: 403, body: { errors: ["permission denied", `token ${TOKEN} lacks "read"`] } });
    expect(await run(["kv", "get", "secret/app"], { env: envFor(stub) })).toEqual({
      code: 2,
      stdout: "",
      stderr: 'Error: reading secret/data/app: HTTP 403: permission denied; token <redacted> lacks "read"\n',
    });
  });
});

describe("connection settings", () => {
  it("reads the token from ~/.vault-token when VAULT_TOKEN is unset, and sends none without either", async () => {
    const stub = await startStub((request) => (request.path === "/v1/sys/seal" ? { status: 204 } : undefined));
    const home = mkdtempSync(join(tmpdir(), "strongbox-cli-token-"));
    writeFileSync(join(home, ".vault-token"), "file-token\n");
    await run(["operator", "seal"], { env: { VAULT_ADDR: stub.addr }, home });
    await run(["operator", "seal"], { env: { VAULT_ADDR: stub.addr, VAULT_TOKEN: "env-token" }, home });
    await run(["operator", "seal"], { env: { VAULT_ADDR: stub.addr } });
    expect(stub.requests.map((r) => r.headers["x-vault-token"])).toEqual(["file-token", "env-token", undefined]);
    rmSync(home, { recursive: true, force: true });
  });

  it("prefers -address over VAULT_ADDR", async () => {
    const stub = await startStub((request) => (request.path === "/v1/sys/seal" ? { status: 204 } : undefined));
    expect(await run(["operator", "seal", `-address=${stub.addr}`], { env: { VAULT_ADDR: "http://127.0.0.1:1" } })).toMatchObject({ code: 0 });
  });

  it("follows a standby's 307 to the active node with the same method, body and token", async () => {
    const active = await startStub((request) => (request.path === "/v1/sys/unseal" ? { body: SEAL_STATUS } : { body: NOT_HA }));
    const standby = await startStub((request) => ({ status: 307, headers: { location: `${active.addr}${request.path}` } }));
    expect(await run(["operator", "unseal", "a2V5"], { env: envFor(standby) })).toMatchObject({ code: 0 });
    expect(active.requests[0]).toMatchObject({ method: "PUT", path: "/v1/sys/unseal", body: { key: "a2V5" }, headers: { "x-vault-token": TOKEN } });
    const refused = await run(["operator", "seal", "-disable-redirects"], { env: envFor(standby) });
    expect(refused).toMatchObject({ code: 2, stderr: "Error: sealing: HTTP 307\n" });
  });

  it("gives up on a redirect loop", async () => {
    const loop = await startStub((request) => ({ status: 307, headers: { location: request.path } }));
    const { code, stderr } = await run(["operator", "seal"], { env: envFor(loop) });
    expect(code).toBe(2);
    expect(stderr).toContain("too many redirects");
  });
});

describe("TLS", () => {
  let dir: string;
  let caFile: string;
  let tls: { cert: string; key: string };

  beforeAll(async () => {
    // A self-signed certificate for the name "strongbox-cluster" (not for 127.0.0.1).
    const identity = await generateClusterIdentity(3_600_000);
    tls = { cert: identity.certificatePem, key: identity.privateKeyPem };
    dir = mkdtempSync(join(tmpdir(), "strongbox-cli-tls-"));
    caFile = join(dir, "ca.pem");
    writeFileSync(caFile, identity.certificatePem);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const sealed: Handler = (request) => (request.path === "/v1/sys/seal" ? { status: 204 } : undefined);

  it("rejects an untrusted certificate with a hint, exit 2", async () => {
    const stub = await startStub(sealed, tls);
    const { code, stderr } = await run(["operator", "seal"], { env: envFor(stub) });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^Error: sealing: TLS certificate of https:\/\/127\.0\.0\.1:\d+ not trusted .*-ca-cert/);
  });

  it("trusts VAULT_CACERT / -ca-cert / -ca-path, checking the name given by -tls-server-name", async () => {
    const stub = await startStub(sealed, tls);
    expect(await run(["operator", "seal"], { env: envFor(stub, { VAULT_CACERT: caFile, VAULT_TLS_SERVER_NAME: "strongbox-cluster" }) })).toMatchObject({
      code: 0,
    });
    expect(await run(["operator", "seal", `-ca-cert=${caFile}`, "-tls-server-name=strongbox-cluster"], { env: envFor(stub) })).toMatchObject({ code: 0 });
    expect(await run(["operator", "seal", `-ca-path=${dir}`, "-tls-server-name=strongbox-cluster"], { env: envFor(stub) })).toMatchObject({ code: 0 });
    // Trusted CA, but the certificate is not for 127.0.0.1.
    const wrongName = await run(["operator", "seal", `-ca-cert=${caFile}`], { env: envFor(stub) });
    expect(wrongName.code).toBe(2);
    expect(wrongName.stderr).toContain("not trusted");
  });

  it("skips verification with VAULT_SKIP_VERIFY or -tls-skip-verify", async () => {
    const stub = await startStub(sealed, tls);
    expect(await run(["operator", "seal"], { env: envFor(stub, { VAULT_SKIP_VERIFY: "true" }) })).toMatchObject({ code: 0 });
    expect(await run(["operator", "seal", "-tls-skip-verify"], { env: envFor(stub) })).toMatchObject({ code: 0 });
    expect(await run(["operator", "seal"], { env: envFor(stub, { VAULT_SKIP_VERIFY: "maybe" }) })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("VAULT_SKIP_VERIFY"),
    });
  });

  it("refuses a redirect from https to http", async () => {
    const plain = await startStub(sealed);
    const stub = await startStub((request) => ({ status: 307, headers: { location: `${plain.addr}${request.path}` } }), tls);
    const { code, stderr } = await run(["operator", "seal", "-tls-skip-verify"], { env: envFor(stub) });
    expect(code).toBe(2);
    expect(stderr).toContain("it would drop TLS");
    expect(plain.requests).toEqual([]);
  });

  it("explains a TLS handshake with a plain-http server", async () => {
    const plain = await startStub(sealed);
    const { code, stderr } = await run(["operator", "seal"], { env: envFor(plain, { VAULT_ADDR: plain.addr.replace("http:", "https:") }) });
    expect(code).toBe(2);
    expect(stderr).toContain("does the server use plain http?");
  });
});

describe("parseKvData", () => {
  const files: Record<string, string> = { "pw.txt": "s3cret\n", "obj.json": '{"x":"1","y":2}', "list.json": "[1]" };
  const readFile = (path: string) => {
    if (!(path in files)) throw new Error("ENOENT");
    return files[path]!;
  };
  const parse = (args: string[], stdin = "") => parseKvData(args, async () => stdin, readFile);

  it("reads key=value, @file values, \\@ literals, stdin values, and repeats as lists", async () => {
    expect(await parse(["a=1", "b=@pw.txt", "c=\\@home", "d=", "e=x=y", "a=2", "a=3"])).toEqual({
      a: ["1", "2", "3"],
      b: "s3cret\n",
      c: "@home",
      d: "",
      e: "x=y",
    });
    expect(await parse(["k=-"], "from stdin")).toEqual({ k: "from stdin" });
  });

  it("merges JSON objects from @file and from - (stdin)", async () => {
    expect(await parse(["@obj.json", "z=last"])).toEqual({ x: "1", y: 2, z: "last" });
    expect(await parse(["-"], '{"s":"t"}')).toEqual({ s: "t" });
  });

  it("rejects bad arguments without repeating their values", async () => {
    await expect(parse(["hunter2"])).rejects.toThrow(new UsageError("data argument 1 is not key=value"));
    await expect(parse(["a=-", "b=-"])).rejects.toThrow(/data argument 2: stdin can only be read once/);
    await expect(parse(["@list.json"])).rejects.toThrow(/JSON must be an object/);
    await expect(parse(["-"], "{not json")).rejects.toThrow(/data argument 1: not valid JSON$/);
    await expect(parse(["a=@missing"])).rejects.toThrow(/cannot read missing/);
  });
});

describe("addPrefixToKvPath", () => {
  it("puts the prefix right after the mount", () => {
    expect(addPrefixToKvPath("secret/foo/bar", "secret/", "data")).toBe("secret/data/foo/bar");
    expect(addPrefixToKvPath("secret", "secret/", "metadata")).toBe("secret/metadata");
    expect(addPrefixToKvPath("team/kv/app", "team/kv/", "data")).toBe("team/kv/data/app");
  });
});
