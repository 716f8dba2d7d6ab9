import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InProcessServer } from "../../helpers/in-process-server.js";
import { opensslCsr, pkiServer, scratch } from "./pki-fixtures.js";

let server: InProcessServer;
let files: ReturnType<typeof scratch>;
let rootPem: string;

beforeAll(async () => {
  server = await pkiServer();
  files = scratch();
  const root = await server.call("POST", "pki/root/generate/internal", { common_name: "Example Root", ttl: "700h" }, server.root);
  expect(root.status).toBe(200);
  rootPem = root.body.data.certificate;
  const role = await server.call(
    "POST",
    "pki/roles/web",
    { allowed_domains: "example.com", allow_subdomains: true, max_ttl: "72h", organization: "Example Org" },
    server.root,
  );
  expect(role.status).toBe(200);
});

afterAll(() => files?.done());

describe("pki root and issuance", () => {
  it("generates a root as Vault answers it, and openssl accepts it as a CA", async () => {
    const text = files.openssl("x509", "-noout", "-text", "-in", files.write("root.pem", rootPem));
    expect(text).toContain("CA:TRUE");
    expect(text).toContain("Certificate Sign, CRL Sign");
    expect(text).toMatch(/Subject: CN\s?=\s?Example Root/);
    expect(files.openssl("verify", "-CAfile", files.write("root-only.pem", rootPem), files.write("root-self.pem", rootPem))).toContain("OK");
  });

  it("issues a certificate in the role's domains that openssl verifies against the root", async () => {
    const issued = await server.call(
      "POST",
      "pki/issue/web",
      { common_name: "www.example.com", alt_names: "api.example.com", ip_sans: "10.0.0.1", ttl: "1h" },
      server.root,
    );
    expect(issued.status).toBe(200);
    const { certificate, issuing_ca, ca_chain, private_key, private_key_type, serial_number, expiration } = issued.body.data;
    expect(issuing_ca).toBe(rootPem);
    expect(ca_chain).toEqual([rootPem]);
    expect(private_key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(private_key_type).toBe("rsa");
    expect(serial_number).toMatch(/^([0-9a-f]{2}:){19}[0-9a-f]{2}$/);
    expect(expiration - Math.floor(Date.now() / 1000)).toBeGreaterThan(3500);
    const leaf = files.write("leaf.pem", certificate);
    expect(files.openssl("verify", "-CAfile", files.write("ca.pem", rootPem), leaf)).toContain("leaf.pem: OK");
    const text = files.openssl("x509", "-noout", "-text", "-in", leaf);
    expect(text).toContain("DNS:www.example.com");
    expect(text).toContain("DNS:api.example.com");
    expect(text).toContain("IP Address:10.0.0.1");
    expect(text).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
    expect(text).toMatch(/Subject: O ?= ?Example Org, CN ?= ?www.example.com/);
    expect(text).toContain("X509v3 Subject Key Identifier");
    expect(text).toContain("X509v3 Authority Key Identifier");
    // The key returned belongs to the certificate.
    const keyModulus = files.openssl("rsa", "-noout", "-modulus", "-in", files.write("leaf.key", private_key));
    expect(files.openssl("x509", "-noout", "-modulus", "-in", leaf)).toBe(keyModulus);
  });

  it("refuses names outside the role with Vault's errors", async () => {
    const cn = await server.call("POST", "pki/issue/web", { common_name: "www.example.org" }, server.root);
    expect(cn).toEqual({ status: 400, body: { errors: ["common name www.example.org not allowed by this role"] } });
    const san = await server.call("POST", "pki/issue/web", { common_name: "a.example.com", alt_names: "evil.com" }, server.root);
    expect(san).toEqual({ status: 400, body: { errors: ["subject alternate name evil.com not allowed by this role"] } });
    const bare = await server.call("POST", "pki/issue/web", { common_name: "example.com" }, server.root);
    expect(bare.body.errors).toEqual(["common name example.com not allowed by this role"]);
    const role = await server.call("POST", "pki/issue/nope", { common_name: "a.example.com" }, server.root);
    expect(role).toEqual({ status: 400, body: { errors: ["unknown role: nope"] } });
  });

  it("signs a CSR made by openssl and refuses one for a name outside the role", async () => {
    const csr = opensslCsr(files, "good", "/CN=svc.example.com", "DNS:svc2.example.com");
    const signed = await server.call("POST", "pki/sign/web", { csr, ttl: "30m" }, server.root);
    expect(signed.status).toBe(200);
    expect(signed.body.data.private_key).toBeUndefined();
    const text = files.openssl("x509", "-noout", "-text", "-in", files.write("signed.pem", signed.body.data.certificate));
    expect(text).toContain("DNS:svc2.example.com");
    expect(text).toContain("DNS:svc.example.com");
    expect(files.openssl("verify", "-CAfile", files.write("ca2.pem", rootPem), files.write("signed2.pem", signed.body.data.certificate))).toContain("OK");
    const bad = await server.call("POST", "pki/sign/web", { csr: opensslCsr(files, "bad", "/CN=intruder.net") }, server.root);
    expect(bad).toEqual({ status: 400, body: { errors: ["common name intruder.net not allowed by this role"] } });
  });

  it("caps the TTL at the role's max_ttl with Vault's warning", async () => {
    const issued = await server.call("POST", "pki/issue/web", { common_name: "long.example.com", ttl: "100h" }, server.root);
    expect(issued.status).toBe(200);
    expect(issued.body.warnings).toEqual(['TTL "100h0m0s" is longer than permitted maxTTL "72h0m0s", so maxTTL is being used']);
    expect(issued.body.data.expiration - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(72 * 3600);
  });

  it("stores every issued certificate under certs/ and serves it by serial", async () => {
    const issued = await server.call("POST", "pki/issue/web", { common_name: "stored.example.com" }, server.root);
    const serial: string = issued.body.data.serial_number;
    const listed = await server.call("LIST", "pki/certs", undefined, server.root);
    expect(listed.body.data.keys).toContain(serial.replaceAll(":", "-"));
    const read = await server.call("GET", `pki/cert/${serial}`);
    expect(read.status).toBe(200);
    expect(read.body.data).toMatchObject({ certificate: issued.body.data.certificate, revocation_time: 0, revocation_time_rfc3339: "" });
    const missing = await server.call("GET", "pki/cert/01-02-03");
    expect(missing).toEqual({ status: 404, body: { errors: [] } });
  });

  it("serves the CA and its chain without a token, raw, with Vault's content types", async () => {
    const der = await server.app.fetch(new Request("http://strongbox.test/v1/pki/ca"));
    expect(der.status).toBe(200);
    expect(der.headers.get("content-type")).toBe("application/pkix-cert");
    const derFile = files.write("ca.der", new Uint8Array(await der.arrayBuffer()));
    expect(files.openssl("x509", "-inform", "DER", "-noout", "-subject", "-in", derFile)).toMatch(/Example Root/);
    const pem = await server.callText("GET", "pki/ca/pem");
    expect(pem).toEqual({ status: 200, text: rootPem });
    expect((await server.app.fetch(new Request("http://strongbox.test/v1/pki/ca/pem"))).headers.get("content-type")).toBe("application/pem-certificate-chain");
    expect((await server.callText("GET", "pki/ca_chain")).text).toBe(rootPem);
    const json = await server.call("GET", "pki/cert/ca");
    expect(json.body.data.certificate).toBe(rootPem);
  });

  it("answers a mount with no CA yet with 204 for the raw CA read", async () => {
    await server.call("POST", "sys/mounts/empty-pki", { type: "pki" }, server.root);
    expect(await server.callText("GET", "empty-pki/ca/pem")).toEqual({ status: 204, text: "" });
    const issue = await server.call("POST", "empty-pki/roles/r", { allow_any_name: true }, server.root);
    expect(issue.status).toBe(200);
    const refused = await server.call("POST", "empty-pki/issue/r", { common_name: "x.example.com" }, server.root);
    expect(refused).toEqual({ status: 400, body: { errors: ["could not fetch the CA certificate (was one set?): no default issuer currently configured"] } });
  });

  it("issues EC and ed25519 keys when the role asks for them", async () => {
    await server.call("POST", "pki/roles/ec", { allow_any_name: true, key_type: "ec", key_bits: 384 }, server.root);
    const ec = await server.call("POST", "pki/issue/ec", { common_name: "ec.example.com", ttl: "1h" }, server.root);
    expect(ec.status).toBe(200);
    expect(ec.body.data.private_key).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(files.openssl("ec", "-noout", "-text", "-in", files.write("ec.key", ec.body.data.private_key))).toContain("NIST CURVE: P-384");
    await server.call("POST", "pki/roles/ed", { allow_any_name: true, key_type: "ed25519" }, server.root);
    const ed = await server.call("POST", "pki/issue/ed", { common_name: "ed.example.com", private_key_format: "pkcs8", ttl: "1h" }, server.root);
    expect(ed.status).toBe(200);
    expect(ed.body.data.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(files.openssl("verify", "-CAfile", files.write("ca3.pem", rootPem), files.write("ed.pem", ed.body.data.certificate))).toContain("OK");
  });

  it("refuses a TTL past the issuer's expiry with Vault's error", async () => {
    const refused = await server.call("POST", "pki/issue/web", { common_name: "late.example.com", not_after: "2099-01-01T00:00:00Z" }, server.root);
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0]).toMatch(
      /^cannot satisfy request, as TTL would result in notAfter of 2099-01-01T00:00:00Z that is beyond the expiration of the CA certificate at /,
    );
  });

  it("reads a role back with Vault's defaults", async () => {
    const role = await server.call("GET", "pki/roles/web", undefined, server.root);
    expect(role.body.data).toMatchObject({
      allowed_domains: ["example.com"],
      allow_subdomains: true,
      allow_localhost: true,
      allow_ip_sans: true,
      server_flag: true,
      client_flag: true,
      key_type: "rsa",
      key_bits: 2048,
      signature_bits: 256,
      ttl: 0,
      max_ttl: 72 * 3600,
      not_before_duration: 30,
      key_usage: ["DigitalSignature", "KeyAgreement", "KeyEncipherment"],
      no_store: false,
      issuer_ref: "default",
    });
    const bad = await server.call("POST", "pki/roles/bad", { ttl: "2h", max_ttl: "1h" }, server.root);
    expect(bad).toEqual({ status: 400, body: { errors: ['"ttl" value must be less than "max_ttl" value'] } });
    const bits = await server.call("POST", "pki/roles/bad", { key_type: "rsa", key_bits: 1024 }, server.root);
    expect(bits).toEqual({ status: 400, body: { errors: ["RSA keys < 2048 bits are unsafe and not supported"] } });
  });
});
