import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../adapters/node/server/config-file.js";
import { ConfigError } from "../../src/config/types.js";

const storageTypes = { inmem: { ha: false }, file: { ha: false }, dynamodb: { ha: true }, s3: { ha: false } };

const serverHcl = `
storage "dynamodb" {
  table        = "vault-data"
  max_parallel = 128
  ha_enabled   = true
}

listener "tcp" {
  address          = "0.0.0.0:8200"
  tls_cert_file    = "/etc/strongbox/cert.pem"
  tls_key_file     = "/etc/strongbox/key.pem"
  max_request_size = 1048576
  tls_min_version  = "tls13"
}

listener "tcp" {
  address     = "[::1]:8300"
  tls_disable = 1
}

api_addr     = "https://10.0.0.5:8200"
log_level    = "Warning"
ui           = true
disable_mlock = true

telemetry {
  statsd_address = "localhost:8125"
}
`;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "strongbox-config-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function loadError(paths: string[]): Promise<string> {
  const error: unknown = await loadServerConfig(paths, {}, storageTypes).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

describe("loadServerConfig", () => {
  it("reads an HCL file", async () => {
    const file = await write("server.hcl", serverHcl);
    expect(await loadServerConfig([file], {}, storageTypes)).toEqual({
      storage: { type: "dynamodb", options: { table: "vault-data", max_parallel: "128", ha_enabled: "true" } },
      listeners: [
        {
          type: "tcp",
          address: "0.0.0.0:8200",
          clusterAddress: "0.0.0.0:8201",
          tlsDisable: false,
          tlsCertFile: "/etc/strongbox/cert.pem",
          tlsKeyFile: "/etc/strongbox/key.pem",
          maxRequestSize: 1048576,
          tlsMinVersion: "TLSv1.3",
        },
        { type: "tcp", address: "[::1]:8300", clusterAddress: "[::1]:8301", tlsDisable: true, maxRequestSize: 33554432 },
      ],
      apiAddr: "https://10.0.0.5:8200",
      clusterAddr: "https://10.0.0.5:8201",
      disableClustering: false,
      logLevel: "warn",
      ui: true,
      standbyHoldMs: 5000,
      shutdownDelayMs: 0,
      standbyReads: true,
      allowAuditLogPrefixing: false,
      telemetry: { prometheusRetentionMs: 86_400_000, disableHostname: false },
      files: [file],
      // Warnings come in the order the settings appear in the file.
      warnings: [
        `${file}: "disable_mlock" is a Vault setting Strongbox does not use; ignored`,
        `${file}: "telemetry": "statsd_address" is a Vault telemetry setting Strongbox does not use; ignored`,
      ],
    });
  });

  it("reads a JSON file in Vault's JSON shape", async () => {
    const file = await write(
      "server.json",
      JSON.stringify({
        storage: { file: { path: "/var/lib/strongbox" } },
        listener: [{ tcp: { address: "127.0.0.1:8200", tls_disable: "true" } }],
        cluster_addr: "https://10.0.0.5:8201",
      }),
    );
    const config = await loadServerConfig([file], { VAULT_API_ADDR: "http://10.0.0.5:8200" }, storageTypes);
    expect(config).toMatchObject({
      storage: { type: "file", options: { path: "/var/lib/strongbox" } },
      apiAddr: "http://10.0.0.5:8200",
      clusterAddr: "https://10.0.0.5:8201",
      files: [file],
      warnings: [],
    });
  });

  it("reads a directory's *.hcl and *.json files in name order, merging them", async () => {
    await write("10-storage.hcl", 'storage "inmem" {}\napi_addr = "https://first:8200"\nlog_level = "debug"\n');
    await write("20-listener.json", JSON.stringify({ listener: { tcp: { address: "127.0.0.1:8200", tls_disable: true } }, api_addr: "https://second:8200" }));
    await write("30-listener.hcl", 'listener "tcp" {\n  address = "127.0.0.1:9200"\n  tls_disable = true\n}\n');
    await write("notes.txt", "not config");
    await mkdir(join(dir, "nested.hcl"));
    const config = await loadServerConfig([dir], {}, storageTypes);
    expect(config.files).toEqual([join(dir, "10-storage.hcl"), join(dir, "20-listener.json"), join(dir, "30-listener.hcl")]);
    expect(config.apiAddr).toBe("https://second:8200");
    expect(config.logLevel).toBe("debug");
    expect(config.listeners.map((listener) => listener.address)).toEqual(["127.0.0.1:8200", "127.0.0.1:9200"]);
  });

  it("reads several paths in the order given", async () => {
    const storage = await write("storage.hcl", 'storage "s3" {\n  bucket = "b"\n}\nui = true\n');
    const listener = await write("listener.hcl", 'listener "tcp" {\n  tls_disable = "1"\n}\nui = false\n');
    const config = await loadServerConfig([storage, listener], {}, storageTypes);
    expect(config).toMatchObject({ storage: { type: "s3", options: { bucket: "b" } }, ui: false, files: [storage, listener] });
  });

  it("names both files when storage is defined twice", async () => {
    const first = await write("a.hcl", 'storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n}\n');
    const second = await write("b.json", '{"storage": {"file": {"path": "/x"}}}');
    expect(await loadError([dir])).toBe(`${second}: "storage" is already defined in ${first}; define it only once`);
  });

  it("requires -config", async () => {
    expect(await loadError([])).toBe("-config is required: pass -config=<file or directory> (repeatable)");
  });

  it("names a missing file", async () => {
    const missing = join(dir, "missing.hcl");
    expect(await loadError([missing])).toBe(`${missing}: cannot read configuration: no such file or directory`);
  });

  it("rejects a directory without configuration files", async () => {
    await write("readme.md", "# nothing");
    expect(await loadError([dir])).toBe(`${dir}: no *.hcl or *.json configuration files found`);
  });

  it("names the file of invalid JSON", async () => {
    const file = await write("bad.json", '{"storage": ');
    expect(await loadError([file])).toMatch(new RegExp(`^${escape(file)}: invalid JSON: `));
  });

  it("keeps the line and column of invalid HCL", async () => {
    const file = await write("bad.hcl", 'storage "inmem" {}\n\nlistener "tcp" {\n  address = \n}\n');
    const message = await loadError([file]);
    expect(message).toMatch(new RegExp(`^${escape(file)}: invalid HCL: ${escape(file)}:5,1: expected a value`));
    expect(message).not.toContain("parse config");
  });

  it("reports validation errors with the file name", async () => {
    const file = await write("server.hcl", 'storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n  max_request_size = "big"\n}\n');
    expect(await loadError([file])).toBe(`${file}: listener "tcp" #1: "max_request_size" must be an integer number of bytes, got "big"`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
