/**
 * Transit keys with certificates (Vault 1.15+): CSRs made by transit and checked by OpenSSL, signed
 * by a CA OpenSSL made, the chain stored with set-certificate and read back, and Vault's refusals.
 */
import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

/** Each signing type, and the signature algorithm OpenSSL names in its CSR (as Go picks it). */
const SIGNING_TYPES = [
  ["rsa-2048", "sha256WithRSAEncryption"],
  ["ecdsa-p256", "ecdsa-with-SHA256"],
  ["ecdsa-p384", "ecdsa-with-SHA384"],
  ["ecdsa-p521", "ecdsa-with-SHA512"],
  ["ed25519", "ED25519"],
] as const;

describe("transit certificates: csr, set-certificate, export/certificate-chain", () => {
  let server: InProcessServer;
  let dir: string;
  /** The template: a CSR for a key of OpenSSL's own, with a subject and SANs. */
  let template: string;
  let caPem: string;

  const call = (method: string, path: string, body?: unknown, token?: string) => server.call(method, `transit/${path}`, body, token ?? server.root);
  const data = async (method: string, path: string, body?: unknown) => {
    const answer = await call(method, path, body);
    if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.data;
  };
  const refused = async (path: string, body: unknown, error: string, method = "POST") => {
    const answer = await call(method, path, body);
    expect(answer.body.errors, path).toEqual([error]);
    expect(answer.status, path).toBe(400);
  };

  /** OpenSSL in the temporary directory: its stdout, or the test fails with its stderr. */
  const openssl = (...args: string[]) => {
    const run = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (run.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${run.stderr}`);
    return { stdout: run.stdout, stderr: run.stderr };
  };
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return name;
  };
  /** A leaf certificate (basicConstraints CA:FALSE) for `csr`, issued by the test CA. */
  let issued = 0;
  const issue = (csr: string) => {
    const name = `leaf-${++issued}`;
    file(`${name}.ext`, "basicConstraints=CA:FALSE\nsubjectAltName=DNS:app.example.com,IP:10.0.0.1\n");
    openssl(
      ...["x509", "-req", "-in", file(`${name}.csr`, csr), "-CA", "ca.pem", "-CAkey", "ca.key"],
      ...["-set_serial", String(issued), "-days", "1", "-extfile", `${name}.ext`, "-out", `${name}.pem`],
    );
    return readFileSync(join(dir, `${name}.pem`), "utf8");
  };
  /** A version's public key as transit shows it, as SubjectPublicKeyInfo DER. */
  const transitPublicKey = async (name: string, version: number) => {
    const shown = (await data("GET", `keys/${name}`)).keys[String(version)].public_key as string;
    const key = shown.startsWith("-----")
      ? createPublicKey(shown)
      : createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(shown, "base64").toString("base64url") }, format: "jwk" });
    return key.export({ type: "spki", format: "der" });
  };
  const csrPublicKey = (csr: string) =>
    createPublicKey(openssl("req", "-in", file("pubkey.csr", csr), "-noout", "-pubkey").stdout).export({ type: "spki", format: "der" });
  const verifiedCsr = (csr: string) => {
    expect(csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/);
    expect(openssl("req", "-in", file("verify.csr", csr), "-noout", "-verify").stderr).toContain("verify OK");
    return openssl("req", "-in", "verify.csr", "-noout", "-subject", "-text").stdout;
  };
  const chainOf = (...pems: string[]) => pems.map((pem) => pem.trim()).join("\n");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "transit-certificates-"));
    server = await unsealedServer();
    await server.call("POST", "sys/mounts/transit", { type: "transit" }, server.root);
    openssl(
      ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "template.key", "-out", "template.csr"],
      ...["-subj", "/CN=app.example.com/O=Example", "-addext", "subjectAltName=DNS:app.example.com,IP:10.0.0.1"],
    );
    template = readFileSync(join(dir, "template.csr"), "utf8");
    openssl(
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1"],
      ...["-subj", "/CN=Strongbox Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    );
    caPem = readFileSync(join(dir, "ca.pem"), "utf8");
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(SIGNING_TYPES)("%s: a CSR from a template, signed by a CA, its chain stored, read and exported", async (type, signatureAlgorithm) => {
    const name = `cert-${type}`;
    await data("POST", `keys/${name}`, { type });
    const answer = await data("POST", `keys/${name}/csr`, { csr: template });
    expect(answer.name).toBe(name);
    expect(answer.type).toBe(type);
    const text = verifiedCsr(answer.csr);
    expect(text).toContain("subject=CN = app.example.com, O = Example");
    expect(text).toMatch(/DNS:app\.example\.com, IP Address:10\.0\.0\.1/);
    expect(text).toContain(`Signature Algorithm: ${signatureAlgorithm}`);
    expect(csrPublicKey(answer.csr).equals(await transitPublicKey(name, 1))).toBe(true);

    const leaf = issue(answer.csr);
    const chain = leaf + caPem;
    const stored = await data("POST", `keys/${name}/set-certificate`, { certificate_chain: chain });
    expect(stored).toEqual({ name, type, "certificate-chain": chain });

    expect((await data("GET", `keys/${name}`)).keys["1"].certificate_chain).toBe(chainOf(leaf, caPem));
    // The key is not exportable: its certificate chain is public, as its public key is.
    const exported = (await data("GET", `export/certificate-chain/${name}`)).keys["1"];
    expect(exported).toBe(chainOf(leaf, caPem));
    expect((await data("GET", `export/certificate-chain/${name}/1`)).keys["1"]).toBe(exported);
    const exportedLeaf = `${exported.split("\n-----BEGIN")[0]}\n`;
    expect(openssl("verify", "-CAfile", "ca.pem", file("exported-leaf.pem", exportedLeaf)).stdout).toBe("exported-leaf.pem: OK\n");
  });

  it("makes a CSR with an empty subject without a template", async () => {
    await data("POST", "keys/bare", { type: "ecdsa-p256" });
    const text = verifiedCsr((await data("POST", "keys/bare/csr", {})).csr);
    expect(text).toMatch(/^subject=\s*$/m);
    expect(text).not.toContain("Subject Alternative Name");
  });

  it("gives each version its own CSR and stores a chain on the version asked for only", async () => {
    await data("POST", "keys/rotating", { type: "ecdsa-p256" });
    await data("POST", "keys/rotating/rotate");
    const latest = (await data("POST", "keys/rotating/csr", { csr: template })).csr;
    const first = (await data("POST", "keys/rotating/csr", { csr: template, version: 1 })).csr;
    expect(csrPublicKey(latest).equals(await transitPublicKey("rotating", 2))).toBe(true);
    expect(csrPublicKey(first).equals(await transitPublicKey("rotating", 1))).toBe(true);

    const leaf = issue(first);
    // Without `version`, the latest: version 1's certificate does not hold its key.
    await refused(
      "keys/rotating/set-certificate",
      { certificate_chain: leaf },
      "failed to persist certificate chain: leaf certificate public key does match the key version selected",
    );
    await data("POST", "keys/rotating/set-certificate", { certificate_chain: leaf + caPem, version: 1 });
    const keys = (await data("GET", "keys/rotating")).keys;
    expect(keys["1"].certificate_chain).toBe(chainOf(leaf, caPem));
    expect(keys["2"].certificate_chain).toBe("");
    expect((await data("GET", "export/certificate-chain/rotating/1")).keys).toEqual({ "1": chainOf(leaf, caPem) });
    await refused("export/certificate-chain/rotating/2", undefined, "selected key version does not have a certificate chain imported", "GET");
    await refused("export/certificate-chain/rotating", undefined, "selected key version does not have a certificate chain imported", "GET");
  });

  it("keeps the chain through backup and restore", async () => {
    await data("POST", "keys/backed-up", { type: "ed25519", exportable: true, allow_plaintext_backup: true });
    const leaf = issue((await data("POST", "keys/backed-up/csr", { csr: template })).csr);
    await data("POST", "keys/backed-up/set-certificate", { certificate_chain: leaf + caPem });
    const { backup } = await data("GET", "backup/backed-up");
    expect((await call("POST", "restore/restored", { backup })).status).toBe(204);
    expect((await data("GET", "keys/restored")).keys["1"].certificate_chain).toBe(chainOf(leaf, caPem));
    expect((await data("GET", "export/certificate-chain/restored/1")).keys["1"]).toBe(chainOf(leaf, caPem));
  });

  it("refuses what Vault refuses, with its texts", async () => {
    await data("POST", "keys/aead", {});
    await data("POST", "keys/mac", { type: "hmac" });
    await data("POST", "keys/derived", { type: "ed25519", derived: true });
    await data("POST", "keys/signer", { type: "ecdsa-p256" });
    await data("POST", "keys/edwards", { type: "ed25519" });
    const leaf = issue((await data("POST", "keys/signer/csr", { csr: template })).csr);
    const otherLeaf = issue(template);

    for (const endpoint of ["csr", "set-certificate"]) {
      await refused(`keys/missing/${endpoint}`, { certificate_chain: leaf }, "key with provided name 'missing' not found");
      await refused(`keys/derived/${endpoint}`, { certificate_chain: leaf }, "operation not supported on keys with derivation enabled");
    }
    await refused("keys/aead/csr", {}, "key type 'aes256-gcm96' does not support signing");
    await refused("keys/mac/csr", {}, "key type 'hmac' does not support signing");
    await refused("keys/aead/set-certificate", { certificate_chain: leaf }, "key type aes256-gcm96 does not support signing");

    await refused("keys/signer/csr", { csr: "not a certificate request" }, "could not decode PEM certificate request");
    await refused(
      "keys/signer/csr",
      { csr: "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----\n" },
      "x509: malformed certificate request",
    );
    await refused("keys/signer/csr", { version: 7 }, "could not create the csr: no such key version");
    const publicOnly = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }) as string;
    expect((await call("POST", "keys/public-only/import", { type: "ecdsa-p256", public_key: publicOnly })).status).toBe(204);
    await refused("keys/public-only/csr", {}, "could not create the csr: private key not imported for key version selected");

    const chain = (certificate_chain: string) => ({ certificate_chain });
    const persist = "failed to persist certificate chain: ";
    await refused("keys/signer/set-certificate", chain("no PEM here"), "could not decode PEM block in certificate chain");
    await refused("keys/signer/set-certificate", chain(""), "provided certificate chain did not contain any valid PEM certificate");
    await refused("keys/signer/set-certificate", chain(publicOnly), "provided certificate chain did not contain any valid PEM certificate");
    await refused(
      "keys/signer/set-certificate",
      chain("-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n"),
      "failed to parse certificate in certificate chain: x509: malformed certificate",
    );
    await refused("keys/signer/set-certificate", chain(caPem + leaf), `${persist}certificate in the first position is not a leaf certificate`);
    await refused("keys/signer/set-certificate", chain(leaf + otherLeaf), `${persist}provided certificate chain contains more than one leaf certificate`);
    await refused("keys/signer/set-certificate", chain(otherLeaf + caPem), `${persist}leaf certificate public key does match the key version selected`);
    await refused(
      "keys/edwards/set-certificate",
      chain(leaf),
      `${persist}could not validate key match between leaf certificate key and key version in transit: provided leaf certificate public key algorithm 'ECDSA' does not match the transit key type 'ed25519'`,
    );
    await refused(
      "keys/signer/set-certificate",
      { ...chain(leaf), version: 9 },
      `${persist}could not validate key match between leaf certificate key and key version in transit: no such key version`,
    );
    // Nothing refused was stored.
    expect((await data("GET", "keys/signer")).keys["1"].certificate_chain).toBe("");

    await refused("export/certificate-chain/signer", undefined, "selected key version does not have a certificate chain imported", "GET");
    await refused("export/certificate-chain/aead", undefined, "certificate chain not supported for keys that do not support signing", "GET");
  });

  it("is an update the ACL checks: read on keys/* does not allow a CSR", async () => {
    await data("POST", "keys/guarded", { type: "ed25519" });
    await server.writePolicy("keys-read", 'path "transit/keys/*" { capabilities = ["read"] }');
    const token = await server.tokenWith(["keys-read"]);
    expect((await call("GET", "keys/guarded", undefined, token)).status).toBe(200);
    const answer = await call("POST", "keys/guarded/csr", {}, token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(PERMISSION_DENIED);
  });
});
