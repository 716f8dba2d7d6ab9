import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, startCluster } from "../helpers/cluster.js";
import { freePort } from "../helpers/free-port.js";
import { rawRequest } from "../helpers/raw-client.js";

/** A GET from a chosen local port, so the audit entry's remote_port shows whose port it recorded. */
function getFromPort(port: number, path: string, token: string, localPort: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, path: `/v1/${path}`, localAddress: "127.0.0.1", localPort, headers: { "x-vault-token": token }, agent: false },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
      },
    );
    request.on("error", reject);
    request.end();
  });
}

describe("audit in an HA cluster", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  let standby: ClusterNode;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-audit-ha-"));
    cluster = await startCluster(
      { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") },
      // Headers are optional with use_always: the cluster's own setup requests send none. Standby reads
      // off: these tests follow a read the standby forwards into the active's audit log.
      { size: 2, extraConfig: "standby_reads = false\n", nodeSetup: () => ({ listenerConfig: 'proxy_protocol_behavior = "use_always"' }) },
    );
    active = await cluster.waitForActive();
    standby = cluster.nodes.find((node) => node !== active)!;
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a read through a standby is audited on the active with the client's own address and port, token and secret HMAC'd", async () => {
    const file = join(dir, "audit.log");
    const token = cluster.rootToken;
    expect((await api(active, "PUT", "sys/audit/file", { type: "file", options: { file_path: file } }, token)).status).toBe(204);
    expect((await api(active, "PUT", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, token)).status).toBe(204);
    expect((await api(active, "POST", "secret/data/app", { data: { password: "s3cr3t-through-standby" } }, token)).status).toBe(200);

    const clientPort = await freePort();
    const read = await getFromPort(standby.port, "secret/data/app", token, clientPort);
    expect(read.status).toBe(200);
    expect(read.body.data.data.password).toBe("s3cr3t-through-standby");

    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(token);
    expect(text).not.toContain("s3cr3t-through-standby");
    const forRead = text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.request.path === "secret/data/app" && entry.request.operation === "read");
    expect(forRead.map((entry) => entry.type)).toEqual(["request", "response"]);
    for (const entry of forRead) expect(entry.request).toMatchObject({ remote_address: "127.0.0.1", remote_port: clientPort, mount_type: "kv" });

    const hash = async (input: string) => (await api(standby, "POST", "sys/audit-hash/file", { input }, token)).body.data.hash;
    expect(forRead[0].request.client_token).toBe(await hash(token));
    expect(forRead[1].response.data.data.password).toBe(await hash("s3cr3t-through-standby"));
  });

  it("a client named by a PROXY header to the standby keeps that address in the active's audit log", async () => {
    const file = join(dir, "audit.log");
    const token = cluster.rootToken;
    const read = await rawRequest({
      port: standby.port,
      path: "/v1/secret/data/app",
      headers: { "x-vault-token": token },
      preamble: `PROXY TCP4 203.0.113.9 127.0.0.1 45678 ${standby.port}\r\n`,
    });
    expect(read.status).toBe(200);
    const audited = readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.request.path === "secret/data/app" && entry.request.operation === "read" && entry.request.remote_address === "203.0.113.9");
    expect(audited.map((entry) => entry.type)).toEqual(["request", "response"]);
    for (const entry of audited) expect(entry.request.remote_port).toBe(45678);
  });
});
