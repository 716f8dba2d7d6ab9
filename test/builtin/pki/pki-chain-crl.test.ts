import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, createServer, type Server } from "node:tls";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InProcessServer } from "../../helpers/in-process-server.js";
import { pkiServer, scratch } from "./pki-fixtures.js";

let server: InProcessServer;
let files: ReturnType<typeof scratch>;
let rootPem: string;
let intermediatePem: string;

beforeAll(async () => {
  server = await pkiServer("pki");
  files = scratch();
  await server.call("POST", "sys/mounts/pki_int", { type: "pki" }, server.root);
  const root = await server.call("POST", "pki/root/generate/internal", { common_name: "Chain Root", ttl: "760h" }, server.root);
  rootPem = root.body.data.certificate;
  const csr = await server.call(
    "POST",
    "pki_int/intermediate/generate/internal",
    { common_name: "Chain Intermediate", key_type: "ec", key_bits: 256 },
    server.root,
  );
  expect(csr.status).toBe(200);
  expect(csr.body.data.csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
  const signed = await server.call(
    "POST",
    "pki/root/sign-intermediate",
    { csr: csr.body.data.csr, common_name: "Chain Intermediate", ttl: "700h" },
    server.root,
  );
  expect(signed.status).toBe(200);
  intermediatePem = signed.body.data.certificate;
  expect(signed.body.data.ca_chain).toEqual([intermediatePem, rootPem]);
  const set = await server.call("POST", "pki_int/intermediate/set-signed", { certificate: `${intermediatePem}\n${rootPem}` }, server.root);
  expect(set.status).toBe(200);
  expect(set.body.data.imported_issuers).toHaveLength(2);
  await server.call("POST", "pki_int/roles/svc", { allowed_domains: "svc.test", allow_subdomains: true, allow_localhost: true, max_ttl: "24h" }, server.root);
});

afterAll(() => files?.done());

async function issueLeaf(commonName: string) {
  const issued = await server.call("POST", "pki_int/issue/svc", { common_name: commonName, ttl: "1h" }, server.root);
  expect(issued.status).toBe(200);
  return issued.body.data as { certificate: string; private_key: string; serial_number: string; ca_chain: string[] };
}

/** A TLS server with `leaf` (plus the intermediate) and a client trusting only the root; the client's verdict. */
async function handshake(leaf: { certificate: string; private_key: string }, crl?: string[]): Promise<"accepted" | string> {
  const tlsServer: Server = createServer({ key: leaf.private_key, cert: `${leaf.certificate}\n${intermediatePem}` }, (socket) => socket.end());
  await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
  const { port } = tlsServer.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: rootPem, crl, checkServerIdentity: () => undefined }, () => {
        socket.end();
        resolve("accepted");
      });
      socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  } finally {
    await new Promise((resolve) => tlsServer.close(resolve));
  }
}

describe("pki intermediate chain and revocation", () => {
  it("issues from the intermediate a chain that openssl verifies against the root", async () => {
    const leaf = await issueLeaf("api.svc.test");
    expect(leaf.ca_chain).toEqual([intermediatePem, rootPem]);
    const verdict = files.openssl(
      "verify",
      "-CAfile",
      files.write("root.pem", rootPem),
      "-untrusted",
      files.write("int.pem", intermediatePem),
      files.write("leaf.pem", leaf.certificate),
    );
    expect(verdict).toContain("leaf.pem: OK");
    const intText = files.openssl("x509", "-noout", "-text", "-in", files.write("int-text.pem", intermediatePem));
    expect(intText).toContain("CA:TRUE");
    expect(intText).toMatch(/Subject: CN ?= ?Chain Intermediate/);
  });

  it("revokes: the CRL (no token) lists the serial, and a TLS client checking it refuses the certificate", async () => {
    const leaf = await issueLeaf("localhost");
    const other = await issueLeaf("web.svc.test");
    expect(await handshake(leaf)).toBe("accepted");

    const revoked = await server.call("POST", "pki_int/revoke", { serial_number: leaf.serial_number }, server.root);
    expect(revoked.status).toBe(200);
    expect(revoked.body.data.state).toBe("revoked");
    expect(revoked.body.data.revocation_time).toBeGreaterThan(0);

    const crl = await server.callText("GET", "pki_int/crl/pem");
    expect(crl.status).toBe(200);
    expect(crl.text).toMatch(/^-----BEGIN X509 CRL-----/);
    const crlText = files.openssl("crl", "-noout", "-text", "-in", files.write("int.crl", crl.text));
    const hexSerial = leaf.serial_number.replaceAll(":", "").toUpperCase();
    expect(crlText).toContain(`Serial Number: ${hexSerial}`);
    expect(crlText).not.toContain(other.serial_number.replaceAll(":", "").toUpperCase());
    expect(crlText).toMatch(/X509v3 CRL Number:\s+\d+/);
    files.openssl("crl", "-noout", "-CAfile", files.write("int-ca.pem", intermediatePem), "-in", files.write("int2.crl", crl.text));

    // Node checks the CRL of every certificate in the chain: the root's (no token either) and the intermediate's.
    const crls = [(await server.callText("GET", "pki/crl/pem")).text, crl.text];
    expect(await handshake(leaf, crls)).toBe("CERT_REVOKED");
    expect(await handshake(other, crls)).toBe("accepted");

    const der = await server.app.fetch(new Request("http://strongbox.test/v1/pki_int/crl"));
    expect(der.headers.get("content-type")).toBe("application/pkix-crl");
    expect(files.openssl("crl", "-inform", "DER", "-noout", "-text", "-in", files.write("int.der.crl", new Uint8Array(await der.arrayBuffer())))).toContain(
      `Serial Number: ${hexSerial}`,
    );

    const read = await server.call("GET", `pki_int/cert/${leaf.serial_number}`);
    expect(read.body.data.revocation_time).toBe(revoked.body.data.revocation_time);
    const listed = await server.call("LIST", "pki_int/certs/revoked", undefined, server.root);
    expect(listed.body.data.keys).toEqual([leaf.serial_number.replaceAll(":", "-")]);
    const again = await server.call("POST", "pki_int/revoke", { serial_number: leaf.serial_number }, server.root);
    expect(again.body.data.revocation_time).toBe(revoked.body.data.revocation_time);
  });

  it("answers revoke's bad input with Vault's errors", async () => {
    expect(await server.call("POST", "pki_int/revoke", {}, server.root)).toEqual({
      status: 400,
      body: { errors: ["The serial number or certificate to revoke must be provided."] },
    });
    expect(await server.call("POST", "pki_int/revoke", { serial_number: "aa:bb" }, server.root)).toEqual({
      status: 400,
      body: { errors: ["certificate with serial aa:bb not found."] },
    });
    expect((await server.call("POST", "pki_int/revoke", { serial_number: "../../x" }, server.root)).status).toBe(400);
  });

  it("revoke-with-key needs the certificate's own private key", async () => {
    const leaf = await issueLeaf("keyed.svc.test");
    const stranger = await issueLeaf("stranger.svc.test");
    const wrong = await server.call("POST", "pki_int/revoke-with-key", { serial_number: leaf.serial_number, private_key: stranger.private_key }, server.root);
    expect(wrong).toEqual({ status: 400, body: { errors: ["public key from provided private key does not match public key from certificate"] } });
    const right = await server.call("POST", "pki_int/revoke-with-key", { certificate: leaf.certificate, private_key: leaf.private_key }, server.root);
    expect(right.status).toBe(200);
    expect(right.body.data.state).toBe("revoked");
  });

  it("rotates the CRL and reads config/crl with Vault's defaults", async () => {
    const before = files.openssl("crl", "-noout", "-crlnumber", "-in", files.write("before.crl", (await server.callText("GET", "pki_int/crl/pem")).text));
    expect(await server.call("GET", "pki_int/crl/rotate", undefined, server.root)).toMatchObject({ status: 200, body: { data: { success: true } } });
    const after = files.openssl("crl", "-noout", "-crlnumber", "-in", files.write("after.crl", (await server.callText("GET", "pki_int/crl/pem")).text));
    expect(Number.parseInt(after.split("=")[1]!, 16)).toBe(Number.parseInt(before.split("=")[1]!, 16) + 1);
    const config = await server.call("GET", "pki_int/config/crl", undefined, server.root);
    expect(config.body.data).toMatchObject({ expiry: "72h", disable: false, auto_rebuild: false, auto_rebuild_grace_period: "12h" });
    const bad = await server.call("POST", "pki_int/config/crl", { expiry: "soon" }, server.root);
    expect(bad).toEqual({ status: 400, body: { errors: ["given expiry could not be decoded: soon"] } });
  });

  it("answers OCSP (GET, no token): good, then revoked; openssl verifies the response against the chain", async () => {
    const leaf = await issueLeaf("ocsp.svc.test");
    const ask = async (name: string) => {
      files.write(`${name}-leaf.pem`, leaf.certificate);
      files.openssl("ocsp", "-issuer", files.write("ocsp-int.pem", intermediatePem), "-cert", `${name}-leaf.pem`, "-no_nonce", "-reqout", `${name}.req`);
      const request = Buffer.from(readFileSync(join(files.dir, `${name}.req`))).toString("base64");
      const response = await server.app.fetch(new Request(`http://strongbox.test/v1/pki_int/ocsp/${encodeURIComponent(request)}`));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/ocsp-response");
      files.write(`${name}.resp`, new Uint8Array(await response.arrayBuffer()));
      files.write("ocsp-chain.pem", `${intermediatePem}\n${rootPem}\n`);
      const args = ["ocsp", "-respin", `${name}.resp`, "-issuer", "ocsp-int.pem", "-cert", `${name}-leaf.pem`, "-CAfile", "ocsp-chain.pem", "-no_nonce"];
      const checked = spawnSync("openssl", args, { cwd: files.dir, encoding: "utf8" });
      expect(checked.stderr).toContain("Response verify OK");
      return checked.stdout;
    };
    expect(await ask("good")).toMatch(/good-leaf.pem: good/);
    await server.call("POST", "pki_int/revoke", { serial_number: leaf.serial_number }, server.root);
    expect(await ask("revoked")).toMatch(/revoked-leaf.pem: revoked/);
    const garbage = await server.app.fetch(new Request("http://strongbox.test/v1/pki_int/ocsp/bm90LW9jc3A="));
    expect(new Uint8Array(await garbage.arrayBuffer())).toEqual(new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x01])); // malformedRequest
  });

  it("writes config/urls into the certificates issued afterwards", async () => {
    const urls = {
      issuing_certificates: "http://127.0.0.1:8200/v1/pki_int/ca",
      crl_distribution_points: "http://127.0.0.1:8200/v1/pki_int/crl",
      ocsp_servers: "http://ocsp.svc.test",
    };
    const written = await server.call("POST", "pki_int/config/urls", urls, server.root);
    expect(written.body.data.issuing_certificates).toEqual(["http://127.0.0.1:8200/v1/pki_int/ca"]);
    const leaf = await issueLeaf("urls.svc.test");
    const text = files.openssl("x509", "-noout", "-text", "-in", files.write("urls.pem", leaf.certificate));
    expect(text).toContain("CA Issuers - URI:http://127.0.0.1:8200/v1/pki_int/ca");
    expect(text).toContain("OCSP - URI:http://ocsp.svc.test");
    expect(text).toContain("URI:http://127.0.0.1:8200/v1/pki_int/crl");
  });
});
