/**
 * The listener settings a migrated Vault config relies on, against a real `strongbox server`
 * process: client certificates in the TLS handshake, TLS versions, PROXY protocol and
 * X-Forwarded-For deciding the client address that token_bound_cidrs and the audit log see.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { rawRequest, type RawRequestOptions } from "../helpers/raw-client.js";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { makeCertificates, type TestCertificates } from "../helpers/test-certificates.js";

const CLIENT = "203.0.113.7";

describe("listener controls on a real server", () => {
  let dir: string;
  let certs: TestCertificates;
  let otherCa: TestCertificates;
  let server: ServerProcess;
  let rootToken: string;
  let boundToken: string;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-listener-"));
    certs = await makeCertificates(dir);
    otherCa = await makeCertificates(mkdtempSync(join(dir, "other-")));
    for (const name of ["clientCert", "tls13Proxy", "allowAuthorized", "denyUnauthorized", "xffHops", "xffReject"]) ports[name] = await freePort();
    const tlsFiles = `tls_cert_file = "${certs.serverCertFile}"\n  tls_key_file = "${certs.serverKeyFile}"`;
    const listener = (name: string, body: string) => `listener "tcp" {\n  address = "127.0.0.1:${ports[name]}"\n  ${body}\n}\n`;
    const config = join(dir, "server.hcl");
    writeFileSync(
      config,
      [
        `storage "inmem" {}`,
        `api_addr = "http://127.0.0.1:${ports.allowAuthorized}"`,
        listener("clientCert", `${tlsFiles}\n  tls_require_and_verify_client_cert = true\n  tls_client_ca_file = "${certs.caFile}"`),
        listener("tls13Proxy", `${tlsFiles}\n  tls_min_version = "tls13"\n  proxy_protocol_behavior = "use_always"`),
        // 127.0.0.1 (the test) is not an authorized PROXY sender on these two.
        listener("allowAuthorized", `tls_disable = true\n  proxy_protocol_behavior = "allow_authorized"\n  proxy_protocol_authorized_addrs = "192.0.2.1"`),
        listener("denyUnauthorized", `tls_disable = true\n  proxy_protocol_behavior = "deny_unauthorized"\n  proxy_protocol_authorized_addrs = ["192.0.2.1"]`),
        listener("xffHops", `tls_disable = true\n  x_forwarded_for_authorized_addrs = "127.0.0.1"\n  x_forwarded_for_hop_skips = 1`),
        listener(
          "xffReject",
          `tls_disable = true\n  x_forwarded_for_authorized_addrs = "192.0.2.1"\n  x_forwarded_for_reject_not_authorized = true\n  http_read_header_timeout = "1s"`,
        ),
      ].join("\n"),
    );
    server = await startServerProcess([`-config=${config}`]);
    const plain = (method: string, path: string, body?: unknown, token?: string) =>
      rawRequest({ port: ports.allowAuthorized!, method, path: `/v1/${path}`, body, headers: token ? { "x-vault-token": token } : {} });
    const init = await plain("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
    rootToken = init.body.root_token;
    expect((await plain("PUT", "sys/unseal", { key: init.body.keys_base64[0] })).body.sealed).toBe(false);
    expect((await plain("PUT", "sys/audit/file", { type: "file", options: { file_path: join(dir, "audit.log") } }, rootToken)).status).toBe(204);
    expect((await plain("POST", "auth/token/roles/bound", { token_bound_cidrs: [`${CLIENT}/32`], allowed_policies: ["default"] }, rootToken)).status).toBe(204);
    // Not root: root tokens never expire, and non-expiring tokens are exempt from address binding.
    boundToken = (await plain("POST", "auth/token/create/bound", { policies: ["default"] }, rootToken)).body.auth.client_token;
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const lookupSelf = (options: Omit<RawRequestOptions, "path">) =>
    rawRequest({ ...options, path: "/v1/auth/token/lookup-self", headers: { ...options.headers, "x-vault-token": boundToken } });

  /** The audited requests of lookup-self calls (denied ones included), newest last. */
  function auditedLookups(): Array<{ remote_address: string; remote_port: number }> {
    return readFileSync(join(dir, "audit.log"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.type === "request" && entry.request.path === "auth/token/lookup-self")
      .map((entry) => entry.request);
  }

  it("tls_require_and_verify_client_cert: the handshake fails without a certificate from the CA, and works with one", async () => {
    const tls = { ca: readFileSync(certs.caFile), host: "127.0.0.1" };
    const health = (extra: object) => rawRequest({ port: ports.clientCert!, path: "/v1/sys/health", tls: { ...tls, ...extra } });
    // TLS 1.3 sends the client's certificate after the server's Finished: the refusal arrives as an alert on the first read.
    await expect(health({})).rejects.toThrow(/certificate required|alert|ECONNRESET|socket hang up/i);
    await expect(health({ cert: readFileSync(otherCa.clientCertFile), key: readFileSync(otherCa.clientKeyFile) })).rejects.toThrow(
      /unknown ca|alert|ECONNRESET|socket hang up/i,
    );
    const withCert = await health({ cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) });
    expect(withCert.status).toBe(200);
    expect(withCert.body.initialized).toBe(true);
  });

  it('tls_min_version = "tls13" refuses a TLS 1.2 client', async () => {
    const tls = { ca: readFileSync(certs.caFile), host: "127.0.0.1" };
    await expect(rawRequest({ port: ports.tls13Proxy!, path: "/v1/sys/health", tls: { ...tls, maxVersion: "TLSv1.2" } })).rejects.toThrow(
      /protocol version|alert|ECONNRESET/i,
    );
    expect((await rawRequest({ port: ports.tls13Proxy!, path: "/v1/sys/health", tls })).status).toBe(200);
  });

  it("PROXY protocol before TLS: token_bound_cidrs and the audit log see the header's client address", async () => {
    const tls = { ca: readFileSync(certs.caFile), host: "127.0.0.1" };
    const fromClient = await lookupSelf({ port: ports.tls13Proxy!, tls, preamble: `PROXY TCP4 ${CLIENT} 127.0.0.1 51234 ${ports.tls13Proxy}\r\n` });
    expect(fromClient.status).toBe(200);
    expect(auditedLookups().at(-1)).toMatchObject({ remote_address: CLIENT, remote_port: 51234 });
    // v2 from another address, and no header at all (the socket's 127.0.0.1): both outside the token's CIDR.
    // v2: PROXY over TCP/IPv4, 12 address bytes: 198.51.100.1:5000 → 127.0.0.1:8200.
    const v2 = Buffer.concat([
      Buffer.from("0d0a0d0a000d0a515549540a", "hex"),
      Buffer.from([0x21, 0x11, 0, 12, 198, 51, 100, 1, 127, 0, 0, 1, 0x13, 0x88, 0x20, 0x08]),
    ]);
    const elsewhere = await lookupSelf({ port: ports.tls13Proxy!, tls, preamble: v2 });
    expect(elsewhere.status).toBe(403);
    expect(auditedLookups().at(-1)).toMatchObject({ remote_address: "198.51.100.1", remote_port: 5000 });
    expect((await lookupSelf({ port: ports.tls13Proxy!, tls })).status).toBe(403);
    expect(auditedLookups().at(-1)).toMatchObject({ remote_address: "127.0.0.1" });
  });

  it("allow_authorized: an unauthorized sender's PROXY header is stripped and not trusted", async () => {
    const response = await lookupSelf({ port: ports.allowAuthorized!, preamble: `PROXY TCP4 ${CLIENT} 127.0.0.1 51234 80\r\n` });
    expect(response.status).toBe(403);
    expect(auditedLookups().at(-1)).toMatchObject({ remote_address: "127.0.0.1" });
  });

  it("a client cannot name itself with the header standbys use on the cluster channel", async () => {
    expect((await lookupSelf({ port: ports.allowAuthorized!, headers: { "x-strongbox-forwarded-client": CLIENT } })).status).toBe(403);
    expect(auditedLookups().at(-1)).toMatchObject({ remote_address: "127.0.0.1" });
  });

  it("deny_unauthorized: an unauthorized sender's connection is dropped", async () => {
    await expect(lookupSelf({ port: ports.denyUnauthorized!, preamble: `PROXY TCP4 ${CLIENT} 127.0.0.1 51234 80\r\n` })).rejects.toThrow(
      /ECONNRESET|socket hang up|EPIPE/,
    );
  });

  it("X-Forwarded-For from an authorized sender, with hop skips; a bad chain is Vault's 400", async () => {
    const port = ports.xffHops!;
    expect((await lookupSelf({ port, headers: { "x-forwarded-for": `${CLIENT}, 10.9.9.9` } })).status).toBe(200);
    expect(auditedLookups().at(-1)).toMatchObject({ remote_address: CLIENT });
    expect((await lookupSelf({ port, headers: { "x-forwarded-for": `10.9.9.9, ${CLIENT}` } })).status).toBe(403);
    expect((await lookupSelf({ port })).status).toBe(403);
    const tooShort = await lookupSelf({ port, headers: { "x-forwarded-for": CLIENT } });
    expect(tooShort).toEqual({
      status: 400,
      body: { errors: ["malformed x-forwarded-for configuration or request, hops to skip (1) would skip before earliest chain link (chain length 1)"] },
    });
  });

  it("X-Forwarded-For from a sender not authorized is refused when so configured", async () => {
    const response = await lookupSelf({ port: ports.xffReject!, headers: { "x-forwarded-for": CLIENT } });
    expect(response).toEqual({ status: 400, body: { errors: ["client address not authorized for x-forwarded-for and configured to reject connection"] } });
  });

  it("http_read_header_timeout: a client that never finishes its header is answered 408 and cut off", async () => {
    const socket = connect({ host: "127.0.0.1", port: ports.xffReject! });
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk));
    socket.write("GET /v1/sys/health HTTP/1.1\r\nHost: strongbox\r\n");
    await new Promise((resolve) => socket.once("close", resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });
});
