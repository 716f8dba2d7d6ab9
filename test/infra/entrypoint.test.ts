/**
 * infra/entrypoint.mjs against a recorded ECS task metadata v4 `/task` document served on
 * loopback, and its output read by the server's own configuration loader.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../adapters/node/server/config-file.js";
import { METRICS_PORT } from "../../infra/cdk/monitoring.js";
import { SHUTDOWN_DELAY_SECONDS } from "../../infra/cdk/strongbox-stack.js";

interface Entrypoint {
  prepare(env: Record<string, string | undefined>): Promise<{ args: string[]; env: { VAULT_API_ADDR: string; VAULT_CLUSTER_ADDR: string } }>;
}

const ENTRYPOINT = resolve("infra/entrypoint.mjs");
const TASK_METADATA = readFileSync("test/infra/fixtures/ecs-task-metadata-v4.json", "utf8");
const TASK_IP = "10.0.148.37";
const METADATA_PATH = "/v4/5d2a6c1e9f0b4a7c8e3d2f1a0b9c8d7e-2531612879";
const STORAGE_TYPES = { s3: { ha: false }, dynamodb: { ha: true } };
// Not a usable key pair: the entrypoint only checks the PEM labels, the listener reads the files.
const CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2hlY2tlZA==\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49==\n-----END PRIVATE KEY-----\n";

let entrypoint: Entrypoint;
let metadata: Server;
let metadataUri: string;
let answer: { status: number; body: string };
let requests: string[];
let runtimeDir: string;

beforeAll(async () => {
  // A plain JavaScript module (it runs in the image without a build step), loaded by URL.
  entrypoint = (await import(pathToFileURL(ENTRYPOINT).href)) as Entrypoint;
  metadata = createServer((request, response) => {
    requests.push(request.url ?? "");
    const found = request.url === `${METADATA_PATH}/task`;
    response.writeHead(found ? answer.status : 404, { "content-type": "application/json" });
    response.end(found ? answer.body : "{}");
  });
  await new Promise<void>((listening) => metadata.listen(0, "127.0.0.1", listening));
  metadataUri = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}${METADATA_PATH}`;
});

afterAll(() => new Promise<void>((closed) => metadata.close(() => closed())));

beforeEach(() => {
  answer = { status: 200, body: TASK_METADATA };
  requests = [];
  runtimeDir = mkdtempSync(join(tmpdir(), "strongbox-entrypoint-"));
});

afterEach(() => rmSync(runtimeDir, { recursive: true, force: true }));

/** What the CDK stack puts in the task's environment for the seal stanza. */
const SEAL_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ECS_CONTAINER_METADATA_URI_V4: metadataUri,
    STRONGBOX_RUNTIME_DIR: runtimeDir,
    STRONGBOX_CONFIG: "infra/strongbox.hcl",
    VAULT_AWSKMS_SEAL_KEY_ID: SEAL_KEY_ARN,
    ...extra,
  };
}

/** What `strongbox server` makes of the prepared arguments and environment (the task's, plus what the entrypoint adds). */
async function serverConfig(prepared: Awaited<ReturnType<Entrypoint["prepare"]>>) {
  const configPaths = prepared.args.filter((arg) => arg.startsWith("-config=")).map((arg) => arg.slice("-config=".length));
  return loadServerConfig(configPaths, { VAULT_AWSKMS_SEAL_KEY_ID: SEAL_KEY_ARN, ...prepared.env }, STORAGE_TYPES);
}

describe("without TLS", () => {
  it("advertises the task's private IPv4 from the task metadata: http API, https cluster port", async () => {
    const prepared = await entrypoint.prepare(baseEnv());
    expect(requests).toEqual([`${METADATA_PATH}/task`]);
    expect(prepared.env).toEqual({ VAULT_API_ADDR: `http://${TASK_IP}:8200`, VAULT_CLUSTER_ADDR: `https://${TASK_IP}:8201` });
    expect(prepared.args).toEqual(["server", "-config=infra/strongbox.hcl", `-config=${join(runtimeDir, "listener.hcl")}`]);
  });

  it("produces a configuration the server accepts: S3 data, DynamoDB lock, plain listener on 8200/8201", async () => {
    const config = await serverConfig(await entrypoint.prepare(baseEnv()));
    expect(config.storage).toEqual({ type: "s3", options: {} });
    expect(config.haStorage).toEqual({ type: "dynamodb", options: {} });
    expect(config.seals).toEqual([
      { type: "awskms", disabled: false, options: { kms_key_id: SEAL_KEY_ARN, region: "us-east-1" }, file: "infra/strongbox.hcl" },
    ]);
    expect(config.listeners).toEqual([
      expect.objectContaining({ address: "0.0.0.0:8200", clusterAddress: "0.0.0.0:8201", tlsDisable: true }),
      // For the metrics collector in the same task (infra/cdk/monitoring.ts): loopback, no token.
      expect.objectContaining({ address: `127.0.0.1:${METRICS_PORT}`, tlsDisable: true, unauthenticatedMetricsAccess: true }),
    ]);
    expect(config.apiAddr).toBe(`http://${TASK_IP}:8200`);
    expect(config.clusterAddr).toBe(`https://${TASK_IP}:8201`);
    expect(config.shutdownDelayMs).toBe(SHUTDOWN_DELAY_SECONDS * 1000);
    expect(config.warnings).toEqual([]);
  });
});

describe("behind the load balancer", () => {
  it("takes client addresses from the PROXY protocol header on connections from the load balancer's addresses", async () => {
    const prepared = await entrypoint.prepare(baseEnv({ STRONGBOX_PROXY_PROTOCOL_AUTHORIZED_ADDRS: "10.0.0.0/16" }));
    const stanza = readFileSync(join(runtimeDir, "listener.hcl"), "utf8");
    expect(stanza).toContain('  proxy_protocol_behavior = "allow_authorized"\n');
    expect(stanza).toContain('  proxy_protocol_authorized_addrs = "10.0.0.0/16"\n');
    const config = await serverConfig(prepared);
    expect(config.listeners[0]).toEqual(expect.objectContaining({ address: "0.0.0.0:8200", clusterAddress: "0.0.0.0:8201" }));
    // Until the server reads the PROXY protocol settings it warns that it ignores them; nothing else.
    expect(config.warnings.filter((warning) => !/"proxy_protocol_(behavior|authorized_addrs)"/.test(warning))).toEqual([]);
  });

  it("advertises the api_addr the stack gives (its load balancer port), and the task's own address for the cluster port", async () => {
    const prepared = await entrypoint.prepare(baseEnv({ VAULT_API_ADDR: "https://vault.example.com:8212" }));
    expect(prepared.env).toEqual({ VAULT_API_ADDR: "https://vault.example.com:8212", VAULT_CLUSTER_ADDR: `https://${TASK_IP}:8201` });
    expect(readFileSync(join(runtimeDir, "listener.hcl"), "utf8")).not.toContain("proxy_protocol");
  });
});

describe("with TLS", () => {
  it("writes the certificate and key for the listener, readable by the server's user only, and advertises https", async () => {
    const prepared = await entrypoint.prepare(baseEnv({ STRONGBOX_TLS_CERT: CERT, STRONGBOX_TLS_KEY: KEY }));
    expect(prepared.env.VAULT_API_ADDR).toBe(`https://${TASK_IP}:8200`);
    const config = await serverConfig(prepared);
    const [listener] = config.listeners;
    expect(listener).toMatchObject({ tlsDisable: false, tlsCertFile: join(runtimeDir, "tls.crt"), tlsKeyFile: join(runtimeDir, "tls.key") });
    expect(readFileSync(listener!.tlsCertFile!, "utf8")).toBe(CERT);
    expect(readFileSync(listener!.tlsKeyFile!, "utf8")).toBe(KEY);
    expect(statSync(listener!.tlsKeyFile!).mode & 0o777).toBe(0o600);
    expect(statSync(runtimeDir).mode & 0o077).toBe(0);
    expect(config.apiAddr).toBe(`https://${TASK_IP}:8200`);
  });

  it("refuses half a key pair, or something that is not PEM", async () => {
    await expect(entrypoint.prepare(baseEnv({ STRONGBOX_TLS_CERT: CERT }))).rejects.toThrow(
      "STRONGBOX_TLS_CERT and STRONGBOX_TLS_KEY must be set together (only the certificate is set)",
    );
    await expect(entrypoint.prepare(baseEnv({ STRONGBOX_TLS_CERT: "cert", STRONGBOX_TLS_KEY: "key" }))).rejects.toThrow("PEM");
  });
});

describe("addresses given in the environment", () => {
  it("are used as they are, without asking the metadata endpoint", async () => {
    const given = { VAULT_API_ADDR: "https://strongbox-1.internal:8200", VAULT_CLUSTER_ADDR: "https://strongbox-1.internal:8201" };
    const prepared = await entrypoint.prepare({ ...baseEnv(given), ECS_CONTAINER_METADATA_URI_V4: undefined });
    expect(prepared.env).toEqual(given);
    expect(requests).toEqual([]);
  });

  it("fills in only the one that is missing", async () => {
    const prepared = await entrypoint.prepare(baseEnv({ VAULT_API_ADDR: "http://strongbox-1.internal:8200" }));
    expect(prepared.env).toEqual({ VAULT_API_ADDR: "http://strongbox-1.internal:8200", VAULT_CLUSTER_ADDR: `https://${TASK_IP}:8201` });
  });
});

describe("when the metadata cannot give an address", () => {
  it("says the metadata endpoint is missing and what to set instead", async () => {
    await expect(entrypoint.prepare({ ...baseEnv(), ECS_CONTAINER_METADATA_URI_V4: undefined })).rejects.toThrow(
      /ECS_CONTAINER_METADATA_URI_V4 is missing .*set both to this node's own address/,
    );
  });

  it("retries, then reports the endpoint's answer", async () => {
    answer = { status: 500, body: "agent not ready" };
    await expect(entrypoint.prepare(baseEnv())).rejects.toThrow(
      `cannot read ECS task metadata from ${metadataUri}/task after 5 attempts: HTTP 500 agent not ready`,
    );
    expect(requests).toHaveLength(5);
  });

  it("reports a task without an awsvpc address", async () => {
    const task = JSON.parse(TASK_METADATA);
    task.Containers[0].Networks = [{ NetworkMode: "bridge", IPv4Addresses: [] }];
    answer = { status: 200, body: JSON.stringify(task) };
    await expect(entrypoint.prepare(baseEnv())).rejects.toThrow("lists no awsvpc network with an IPv4 address");
  });
});

describe("as the container's command", () => {
  /** Runs the entrypoint as the image does; asynchronously, so this process can serve the metadata. */
  const run = (env: Record<string, string>) =>
    new Promise<{ status: number; stderr: string }>((done) => {
      execFile(process.execPath, [ENTRYPOINT, "-log-level=debug"], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }, (error, _stdout, stderr) =>
        done({ status: error ? Number(error.code) : 0, stderr }),
      );
    });

  it("exits 1 with the reason when it cannot work out its addresses", async () => {
    const result = await run({ STRONGBOX_RUNTIME_DIR: runtimeDir });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^strongbox entrypoint: VAULT_API_ADDR and VAULT_CLUSTER_ADDR are not both set/);
  });

  it("hands over to `strongbox server` in the same process", async () => {
    // No bucket configured: the server stops at its storage check, before it listens on any port.
    const result = await run(baseEnv());
    expect(result.stderr).toContain(`strongbox entrypoint: api_addr http://${TASK_IP}:8200, cluster_addr https://${TASK_IP}:8201`);
    expect(result.stderr).toContain('storage "s3": bucket is required (or set AWS_S3_BUCKET)');
    expect(result.status).toBe(1);
  });
});
