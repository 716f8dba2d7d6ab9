import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/cluster.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";

const ROOT = "audit-root-token";

interface Reply {
  status: number;
  body: any;
}

/** Audit entries of a JSON-lines file (or of lines received on a socket). */
/** The status of a request with the root token to `server`, its body read and dropped. */
async function statusOf(server: ServerProcess, method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`${server.apiAddr}/v1/${path}`, {
    method,
    headers: { "x-vault-token": ROOT },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

function entries(text: string): any[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

/** A TCP server collecting the lines a socket audit device sends. */
async function lineCollector(port = 0): Promise<{ server: Server; port: number; received: () => string; stop(): Promise<void> }> {
  let text = "";
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (chunk) => (text += chunk));
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    server,
    port: (server.address() as { port: number }).port,
    received: () => text,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("audit devices on a dev server", () => {
  let server: ServerProcess;
  let dir: string;
  const call = async (method: string, path: string, body?: unknown, token = ROOT): Promise<Reply> => {
    const response = await fetch(`${server.apiAddr}/v1/${path}`, {
      method,
      headers: token ? { "x-vault-token": token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-audit-"));
    server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${ROOT}`]);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("logs a request and a response entry per request, secrets HMAC'd with the device's salt, and audit-hash reproduces them", async () => {
    const file = join(dir, "hashed", "audit.log");
    expect((await call("PUT", "sys/audit/hashed", { type: "file", description: "main", options: { file_path: file } })).status).toBe(204);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await call("POST", "secret/data/db", { data: { password: "hunter2", port: 5432 } })).status).toBe(200);
    const read = await call("GET", "secret/data/db");
    expect(read.body.data.data.password).toBe("hunter2");

    const log = entries(readFileSync(file, "utf8"));
    const forRead = log.filter((entry) => entry.request.path === "secret/data/db" && entry.request.operation === "read");
    expect(forRead.map((entry) => entry.type)).toEqual(["request", "response"]);
    const [request, response] = forRead;
    expect(request.request.id).toBe(response.request.id);
    expect(request.request).toMatchObject({ mount_type: "kv", namespace: { id: "root" }, remote_address: "127.0.0.1" });
    expect(request.request.remote_port).toBeGreaterThan(0);
    expect(request.auth).toMatchObject({ display_name: "root", policies: ["root"], token_policies: ["root"], token_type: "service" });
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(ROOT);
    expect(text).not.toContain("hunter2");

    const hash = async (input: string) => (await call("POST", "sys/audit-hash/hashed", { input })).body.data.hash;
    expect(request.auth.client_token).toBe(await hash(ROOT));
    expect(request.request.client_token).toBe(await hash(ROOT));
    expect(response.response.data.data.password).toBe(await hash("hunter2"));
    expect(response.response.data.data.port).toBe(5432);
    const write = log.find((entry) => entry.type === "request" && entry.request.path === "secret/data/db" && entry.request.operation === "update");
    expect(write.request.data.data.password).toBe(await hash("hunter2"));
    expect(await hash("hunter2")).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    // The accessor is HMAC'd too by default: never the raw accessor of the token.
    const accessor = (await call("GET", "auth/token/lookup-self")).body.data.accessor;
    expect(request.auth.accessor).toBe(await hash(accessor));
  });

  it("logs raw with log_raw, leaves accessors readable with hmac_accessor=false, elides list keys", async () => {
    const file = join(dir, "raw.log");
    expect((await call("PUT", "sys/audit/raw", { type: "file", options: { path: file, log_raw: true } })).status).toBe(204);
    const plain = join(dir, "plain-accessor.log");
    expect(
      (await call("PUT", "sys/audit/accessors", { type: "file", options: { file_path: plain, hmac_accessor: "false", elide_list_responses: "true" } })).status,
    ).toBe(204);
    await call("POST", "secret/data/raw", { data: { api_key: "sk-raw" } });
    await call("LIST", "secret/metadata");
    const rawEntry = entries(readFileSync(file, "utf8")).find((entry) => entry.request.path === "secret/data/raw");
    expect(rawEntry.request.data.data.api_key).toBe("sk-raw");
    expect(rawEntry.auth.client_token).toBe(ROOT);

    const accessor = (await call("GET", "auth/token/lookup-self")).body.data.accessor;
    const accessorLog = entries(readFileSync(plain, "utf8"));
    const write = accessorLog.find((entry) => entry.request.path === "secret/data/raw");
    expect(write.auth.accessor).toBe(accessor);
    expect(write.auth.client_token).toMatch(/^hmac-sha256:/);
    const list = accessorLog.find((entry) => entry.type === "response" && entry.request.operation === "list");
    expect(list.response.data.keys).toBeTypeOf("number");
    expect(list.response.data.keys).toBeGreaterThanOrEqual(2);

    expect((await call("DELETE", "sys/audit/raw")).status).toBe(204);
    expect((await call("DELETE", "sys/audit/accessors")).status).toBe(204);
  });

  it("audits requests with an invalid token (request entry with the error)", async () => {
    const file = join(dir, "hashed", "audit.log");
    expect((await call("GET", "secret/data/db", undefined, "not-a-token")).status).toBe(403);
    const refused = entries(readFileSync(file, "utf8")).filter((entry) => entry.request.path === "secret/data/db" && entry.error);
    expect(refused.at(-1)).toMatchObject({ type: "request", error: expect.stringContaining("invalid token") });
    expect(refused.at(-1).request.client_token).toMatch(/^hmac-sha256:/);
  });

  it("lists devices, refuses bad input with 400, and needs sudo", async () => {
    const list = await call("GET", "sys/audit");
    expect(list.body.data["hashed/"]).toMatchObject({ type: "file", description: "main", path: "hashed/", local: false });
    expect(list.body["hashed/"]).toEqual(list.body.data["hashed/"]);
    const bad: [unknown, RegExp][] = [
      [{ type: "file", options: { file_path: join(dir, "x.log"), format: "jsonx" } }, /only "json"/],
      [{ type: "file", options: {} }, /file_path/],
      [{ type: "syslog" }, /unknown audit device type/],
      [{ type: "file", options: { file_path: join(dir, "x.log"), mode: "rw" } }, /mode/],
      [{ type: "file", options: { file_path: join(dir, "x.log"), colour: "red" } }, /unknown option "colour"/],
      [{ type: "socket", options: { address: "nowhere" } }, /address/],
      [{ type: "socket", options: { address: "127.0.0.1:1", socket_type: "sctp" } }, /socket_type/],
      [{ type: "file", options: "file_path" }, /options/],
      [{ type: "file", options: { file_path: join(dir, "hashed") } }, /cannot write/],
    ];
    for (const [body, message] of bad) {
      const reply = await call("PUT", "sys/audit/bad", body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.errors[0]).toMatch(message);
    }
    expect((await call("PUT", "sys/audit/hashed", { type: "file", options: { file_path: join(dir, "y.log") } })).status).toBe(400);
    expect((await call("POST", "sys/audit-hash/absent", { input: "x" })).status).toBe(400);
    expect((await call("POST", "sys/audit-hash/hashed", { input: 5 })).status).toBe(400);

    // Full rights on sys/audit* but no sudo: refused, as on Vault's root-protected paths.
    const policy = 'path "sys/audit*" { capabilities = ["create", "read", "update", "delete", "list"] }';
    expect((await call("PUT", "sys/policies/acl/auditor", { policy })).status).toBe(204);
    const token = (await call("POST", "auth/token/create", { policies: ["auditor"] })).body.auth.client_token;
    expect((await call("GET", "sys/audit", undefined, token)).status).toBe(403);
    expect((await call("POST", "sys/audit-hash/hashed", { input: "x" }, token)).status).toBe(403);
    const sudo = 'path "sys/audit*" { capabilities = ["read", "update", "sudo"] }';
    expect((await call("PUT", "sys/policies/acl/auditor", { policy: sudo })).status).toBe(204);
    expect((await call("GET", "sys/audit", undefined, token)).status).toBe(200);
  });

  it("cannot be made to leave an executable file, a free-form prefix or a changed device behind (CVE-2025-6000)", async () => {
    const script = join(dir, "hook.sh");
    writeFileSync(script, "echo hello\n", { mode: 0o644 });
    const attempts: [Record<string, string>, RegExp][] = [
      [{ file_path: script, mode: "0755" }, /audit files cannot be executable/],
      [{ file_path: join(dir, "new-hook.sh"), mode: "0700" }, /audit files cannot be executable/],
      [{ file_path: join(dir, "any.log"), mode: "0640", prefix: "#!/bin/sh\ntouch /tmp/owned #" }, /audit log prefixing is not allowed/],
      [{ file_path: script, prefix: "\n" }, /audit log prefixing is not allowed/],
      [{ file_path: "/dev/null", mode: "0600" }, /not a regular file/],
      [{ file_path: dir }, /not a regular file/],
    ];
    const devNullMode = statSync("/dev/null").mode;
    for (const [options, message] of attempts) {
      const reply = await call("PUT", "sys/audit/attack", { type: "file", options });
      expect(reply.status, JSON.stringify(options)).toBe(400);
      expect(reply.body.errors[0]).toMatch(message);
    }
    expect(statSync(script).mode & 0o777).toBe(0o644);
    expect(readFileSync(script, "utf8")).toBe("echo hello\n");
    expect(existsSync(join(dir, "new-hook.sh"))).toBe(false);
    expect(existsSync(join(dir, "any.log"))).toBe(false);
    expect(statSync("/dev/null").mode).toBe(devNullMode);
    expect((await call("GET", "sys/audit")).body.data["attack/"]).toBeUndefined();
  });

  it("reopens the file on SIGHUP (log rotation)", async () => {
    const file = join(dir, "hashed", "audit.log");
    renameSync(file, `${file}.1`);
    await call("GET", "secret/data/db");
    expect(readFileSync(`${file}.1`, "utf8")).toContain('"path":"secret/data/db"');
    server.child.kill("SIGHUP");
    await waitFor(
      async () => {
        await call("GET", "sys/mounts");
        try {
          return readFileSync(file, "utf8").includes('"path":"sys/mounts"') ? true : null;
        } catch {
          return null;
        }
      },
      10_000,
      "the audit file to be recreated after SIGHUP",
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("fails closed: with its only device unable to write, a request is refused and not carried out", async () => {
    expect((await call("DELETE", "sys/audit/hashed")).status).toBe(204);
    let collector = await lineCollector();
    const port = collector.port;
    expect((await call("PUT", "sys/audit/net", { type: "socket", options: { address: `127.0.0.1:${port}`, write_timeout: "2s" } })).status).toBe(204);
    expect((await call("POST", "secret/data/guarded", { data: { v: "before" } })).status).toBe(200);
    await waitFor(async () => (collector.received().includes('"path":"secret/data/guarded"') ? true : null), 5_000, "entries on the socket");
    expect(entries(collector.received()).some((entry) => entry.type === "response" && entry.request.path === "secret/data/guarded")).toBe(true);

    await collector.stop();
    const refused = await waitFor(
      async () => {
        const reply = await call("POST", "secret/data/guarded", { data: { v: "after" } });
        return reply.status === 500 ? reply : null;
      },
      10_000,
      "a write refused while the device cannot write",
    );
    expect(refused.body).toEqual({ errors: ["internal error"] });
    expect((await call("GET", "secret/data/guarded")).status).toBe(500);

    collector = await lineCollector(port);
    const read = await waitFor(
      async () => {
        const reply = await call("GET", "secret/data/guarded");
        return reply.status === 200 ? reply : null;
      },
      10_000,
      "requests served again once the device writes",
    );
    expect(read.body.data.data.v).toBe("before");
    expect((await call("DELETE", "sys/audit/net")).status).toBe(204);
    await collector.stop();
    // The device errors are logged; no secret is (the banner before "started!" prints the dev root token).
    expect(server.output().split("server started!")[1]).toContain("audit device failed to write the request entry");
    expect(server.output().split("server started!")[1]).not.toContain(ROOT);
  });

  it("HMACs with the salt stored for the device (sys/audit-hash equals HMAC-SHA256 of the input under a 32-byte salt)", async () => {
    // The salt never leaves the barrier; what can be checked from outside: same input, same hash; different device, different hash.
    const a = join(dir, "a.log");
    const b = join(dir, "b.log");
    await call("PUT", "sys/audit/a", { type: "file", options: { file_path: a } });
    await call("PUT", "sys/audit/b", { type: "file", options: { file_path: b } });
    const hashA = (await call("POST", "sys/audit-hash/a", { input: "same" })).body.data.hash;
    expect((await call("POST", "sys/audit-hash/a", { input: "same" })).body.data.hash).toBe(hashA);
    expect((await call("POST", "sys/audit-hash/b", { input: "same" })).body.data.hash).not.toBe(hashA);
    expect(hashA).not.toBe(`hmac-sha256:${createHmac("sha256", "").update("same").digest("hex")}`);
  });
});

describe("audit devices coming and going on a node that starts with none", () => {
  let server: ServerProcess;
  let dir: string;
  const call = (method: string, path: string, body?: unknown) => statusOf(server, method, path, body);
  const auditedPaths = (file: string) => entries(readFileSync(file, "utf8")).map((entry) => `${entry.type} ${entry.request.operation} ${entry.request.path}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-audit-toggle-"));
    server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${ROOT}`]);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("audits every request from the one after the device is enabled, nothing once it is disabled, and again when one is enabled anew", async () => {
    expect(await call("POST", "secret/data/before", { data: { v: "1" } })).toBe(200);
    const first = join(dir, "first.log");
    expect(await call("PUT", "sys/audit/first", { type: "file", options: { file_path: first } })).toBe(204);
    expect(await call("GET", "secret/data/before")).toBe(200);
    expect(await call("DELETE", "sys/audit/first")).toBe(204);
    expect(await call("GET", "secret/data/after-disable")).toBe(404);
    const second = join(dir, "second.log");
    expect(await call("PUT", "sys/audit/second", { type: "file", options: { file_path: second } })).toBe(204);
    expect(await call("GET", "secret/data/before")).toBe(200);

    const firstLog = auditedPaths(first);
    expect(firstLog).toContain("request read secret/data/before");
    expect(firstLog).toContain("response read secret/data/before");
    expect(firstLog.filter((line) => line.includes("after-disable") || line.includes("update secret/data/before"))).toEqual([]);
    expect(auditedPaths(second).filter((line) => line.endsWith("secret/data/before"))).toEqual([
      "request read secret/data/before",
      "response read secret/data/before",
    ]);
  });
});

describe('file device with file_path "stdout" and "discard" (Fargate ships stdout to CloudWatch Logs)', () => {
  let server: ServerProcess;
  const call = (method: string, path: string, body?: unknown) => statusOf(server, method, path, body);
  /** Audit entries among the process's output lines (log lines are not JSON objects with a "type"). */
  const auditLines = () =>
    server
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.type === "request" || entry.type === "response");

  beforeAll(async () => {
    server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${ROOT}`]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('"stdout" writes one JSON entry per line to the process\'s standard output; "discard" takes entries and keeps none', async () => {
    expect(await call("PUT", "sys/audit/nowhere", { type: "file", options: { file_path: "discard" } })).toBe(204);
    expect(await call("POST", "secret/data/discarded", { data: { v: "1" } })).toBe(200);
    expect(auditLines()).toEqual([]);

    expect(await call("PUT", "sys/audit/out", { type: "file", options: { file_path: "stdout" } })).toBe(204);
    expect(await call("POST", "secret/data/to-stdout", { data: { v: "2" } })).toBe(200);
    const logged = await waitFor(
      async () => {
        const found = auditLines().filter((entry) => entry.request.path === "secret/data/to-stdout");
        return found.length === 2 ? found : null;
      },
      10_000,
      "the audit entries on stdout",
    );
    expect(logged.map((entry) => entry.type)).toEqual(["request", "response"]);
    expect(JSON.stringify(logged)).not.toContain('"v":"2"');
    expect(auditLines().some((entry) => entry.request.path === "secret/data/discarded")).toBe(false);
  });
});
