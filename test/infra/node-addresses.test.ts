/**
 * The addresses the AWS stack gives its nodes, played locally: every node advertises
 * `https://<the API's DNS name>:<a port of its own>` (infra/README.md, "Node addresses"), and the
 * certificate holds only that name. The edge Worker (real workerd) reads the active's address from
 * the lock record in DynamoDB Local and answers 307; a client that resolves the name itself (to
 * loopback, standing in for the load balancer) and verifies the certificate against the cluster's
 * CA follows it to the active and gets its answer. A standby's 307 is followed the same way.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../helpers/cluster.js";
import { freeFixedPort, freePort } from "../helpers/free-port.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { type WranglerDev, startWranglerDev } from "../helpers/wrangler-dev.js";

/** The API's name, as `domainName` is on AWS; resolved by this test's client alone. */
const API_NAME = "strongbox.test";
const STEP_LIMIT_MS = 20_000;
const run = promisify(execFile);

interface Answer {
  status: number;
  location: string | undefined;
  body: any;
}

/** Resolves API_NAME to loopback, as DNS would to the load balancer; any other name as usual. */
function lookupApiName(hostname: string, options: { all?: boolean }, callback: (...args: any[]) => void): void {
  if (hostname !== API_NAME) return void dnsLookup(hostname, options as never, callback);
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 } satisfies LookupAddress]);
  else callback(null, "127.0.0.1", 4);
}

/** One request, no redirect followed; https verifies the server's name against `ca`. */
function send(url: string, ca: string | undefined, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      target,
      { method: init.method ?? "GET", headers: init.headers, ca, lookup: lookupApiName as never, signal: AbortSignal.timeout(STEP_LIMIT_MS) },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, location: response.headers.location, body: text ? JSON.parse(text) : null }));
      },
    );
    outgoing.on("error", reject);
    outgoing.end(init.body);
  });
}

/** As a Vault client does: a 307 is sent again, same method and body, to its Location. */
async function follow(
  url: string,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ hops: string[]; answer: Answer }> {
  const hops: string[] = [];
  for (let next = url; ; ) {
    const answer = await send(next, ca, init);
    if (answer.status !== 307 || !answer.location) return { hops, answer };
    if (hops.length === 3) throw new Error(`too many redirects: ${hops.join(" -> ")}`);
    next = answer.location;
    hops.push(next);
  }
}

/** A CA and a server certificate naming API_NAME only (no IP address), as the stack's certificate names domainName. */
async function certificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.crt"), "-subj", "/CN=strongbox test CA", "-days", "1"]);
  writeFileSync(file("server.ext"), `subjectAltName=DNS:${API_NAME}\nextendedKeyUsage=serverAuth\n`);
  await run("openssl", ["req", ...ec, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", `/CN=${API_NAME}`]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-out",
    file("server.crt"),
    "-days",
    "1",
    "-extfile",
    file("server.ext"),
  ]);
  return { ca: file("ca.crt"), cert: file("server.crt"), key: file("server.key") };
}

describe("node addresses clients can reach and verify", { timeout: 120_000 }, () => {
  const table = `strongbox-addresses-${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), "strongbox-addresses-"));
  const nodes: { apiAddr: string; process: ServerProcess }[] = [];
  let ca: string;
  let edge: WranglerDev;
  let rootToken: string;

  beforeAll(async () => {
    const endpoint = inject("dynamodbEndpoint");
    const files = await certificates(dir);
    ca = readFileSync(files.ca, "utf8");
    for (const name of ["a", "b"]) {
      const [port, clusterPort] = [await freePort(), await freeFixedPort()];
      const apiAddr = `https://${API_NAME}:${port}`;
      const configFile = join(dir, `${name}.hcl`);
      writeFileSync(
        configFile,
        `storage "dynamodb" {
  table      = "${table}"
  endpoint   = "${endpoint}"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"
  ha_enabled = "true"
}
listener "tcp" {
  address         = "127.0.0.1:${port}"
  cluster_address = "127.0.0.1:${clusterPort}"
  tls_cert_file   = "${files.cert}"
  tls_key_file    = "${files.key}"
}
api_addr     = "${apiAddr}"
cluster_addr = "https://127.0.0.1:${clusterPort}"
`,
      );
      nodes.push({ apiAddr, process: await startServerProcess([`-config=${configFile}`], { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }) });
    }
    const init = await send(`${nodes[0]!.apiAddr}/v1/sys/init`, ca, { method: "PUT", body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }) });
    expect(init.status).toBe(200);
    rootToken = init.body.root_token;
    for (const node of nodes) {
      const unseal = await send(`${node.apiAddr}/v1/sys/unseal`, ca, { method: "PUT", body: JSON.stringify({ key: init.body.keys_base64[0] }) });
      expect(unseal.body.sealed).toBe(false);
    }
    edge = await startWranglerDev({ AWS_DYNAMODB_TABLE: table, AWS_DYNAMODB_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" });
  });

  afterAll(async () => {
    await edge?.stop();
    await Promise.all(nodes.map((node) => node.process.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The active node, once exactly one says so, and the other. */
  async function roles(): Promise<{ active: (typeof nodes)[number]; standby: (typeof nodes)[number] }> {
    return waitFor(
      async () => {
        const selves = await Promise.all(nodes.map(async (node) => (await send(`${node.apiAddr}/v1/sys/leader`, ca)).body.is_self === true));
        if (selves.filter(Boolean).length !== 1) return null;
        const active = nodes[selves.indexOf(true)]!;
        return { active, standby: nodes.find((node) => node !== active)! };
      },
      STEP_LIMIT_MS,
      "exactly one active node",
    );
  }

  it("the edge redirects to the active's advertised name, and a verifying client follows it there", async () => {
    const { active } = await roles();
    const token = { "x-vault-token": rootToken };
    const body = JSON.stringify({ password: "through-the-edge" });
    // The edge caches the lock record briefly; wait until it sends clients to the active.
    await waitFor(
      async () => ((await send(`${edge.url}/v1/sys/mounts`, ca)).location === `${active.apiAddr}/v1/sys/mounts` ? true : null),
      STEP_LIMIT_MS,
      "the edge to redirect to the active",
    );

    const written = await follow(`${edge.url}/v1/cubbyhole/app`, ca, { method: "PUT", headers: token, body });
    expect(written.hops).toEqual([`${active.apiAddr}/v1/cubbyhole/app`]);
    expect(written.answer.status).toBe(204);
    const read = await follow(`${edge.url}/v1/cubbyhole/app`, ca, { headers: token });
    expect(read.hops).toEqual([`${active.apiAddr}/v1/cubbyhole/app`]);
    expect(read.answer).toMatchObject({ status: 200, body: { data: { password: "through-the-edge" } } });
  });

  it("a standby asked not to forward redirects to the same name, and the client follows it too", async () => {
    const { active, standby } = await roles();
    // A standby answers reads itself by default: this read asks for the active (Vault Enterprise's header).
    const headers = { "x-vault-token": rootToken, "x-vault-no-request-forwarding": "true", "x-vault-forward": "active-node" };
    const read = await follow(`${standby.apiAddr}/v1/cubbyhole/app`, ca, { headers });
    expect(read.hops).toEqual([`${active.apiAddr}/v1/cubbyhole/app`]);
    expect(read.answer).toMatchObject({ status: 200, body: { data: { password: "through-the-edge" } } });
  });

  it("the client does verify: the same node under a name the certificate does not hold is refused", async () => {
    const { active } = await roles();
    const byAddress = active.apiAddr.replace(API_NAME, "127.0.0.1");
    await expect(send(`${byAddress}/v1/sys/health`, ca)).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    await expect(send(`${active.apiAddr}/v1/sys/health`, undefined)).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });
});
