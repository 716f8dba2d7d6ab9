import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InProcessServer } from "../../helpers/in-process-server.js";
import { pkiServer, scratch } from "./pki-fixtures.js";

let server: InProcessServer;
let files: ReturnType<typeof scratch>;

beforeAll(async () => {
  server = await pkiServer();
  files = scratch();
});

afterAll(() => files?.done());

describe("pki issuers and keys", () => {
  it("rotates a root: a second issuer, the default switched, leaves then chain to the new root", async () => {
    const first = await server.call(
      "POST",
      "pki/root/generate/internal",
      { common_name: "Root G1", ttl: "700h", issuer_name: "g1", key_type: "ec" },
      server.root,
    );
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ issuer_name: "g1", key_name: "" });
    const second = await server.call("POST", "pki/root/rotate/internal", { common_name: "Root G2", ttl: "700h", issuer_name: "g2" }, server.root);
    expect(second.status).toBe(200);
    // A new root does not take over by itself.
    expect((await server.call("GET", "pki/config/issuers", undefined, server.root)).body.data.default).toBe(first.body.data.issuer_id);
    expect((await server.callText("GET", "pki/ca/pem")).text).toBe(first.body.data.certificate);

    const listed = await server.call("LIST", "pki/issuers");
    expect(listed.status).toBe(200);
    expect(listed.body.data.keys.sort()).toEqual([first.body.data.issuer_id, second.body.data.issuer_id].sort());
    expect(listed.body.data.key_info[first.body.data.issuer_id]).toMatchObject({ issuer_name: "g1", is_default: true });

    const switched = await server.call("POST", "pki/root/replace", { default: "g2" }, server.root);
    expect(switched.body.data.default).toBe(second.body.data.issuer_id);
    expect((await server.callText("GET", "pki/ca/pem")).text).toBe(second.body.data.certificate);

    await server.call("POST", "pki/roles/any", { allow_any_name: true, ttl: "1h" }, server.root);
    const leaf = await server.call("POST", "pki/issue/any", { common_name: "after.rotation.test" }, server.root);
    expect(leaf.body.data.issuing_ca).toBe(second.body.data.certificate);
    expect(
      files.openssl("verify", "-CAfile", files.write("g2.pem", second.body.data.certificate), files.write("leaf.pem", leaf.body.data.certificate)),
    ).toContain("OK");
    // The old issuer still signs when named.
    const old = await server.call("POST", "pki/issuer/g1/issue/any", { common_name: "old.rotation.test" }, server.root);
    expect(old.body.data.issuing_ca).toBe(first.body.data.certificate);

    const pem = await server.callText("GET", `pki/issuer/${first.body.data.issuer_id}/pem`);
    expect(pem).toEqual({ status: 200, text: first.body.data.certificate });
    const json = await server.call("GET", "pki/issuer/g2/json");
    expect(json.body.data).toMatchObject({ issuer_id: second.body.data.issuer_id, issuer_name: "g2" });
    const unknown = await server.call("GET", "pki/issuer/nope", undefined, server.root);
    expect(unknown).toEqual({ status: 400, body: { errors: ["unable to find PKI issuer for reference: nope"] } });
  });

  it("reads, renames and lists keys; refuses to delete a key an issuer uses", async () => {
    const keys = await server.call("LIST", "pki/keys", undefined, server.root);
    expect(keys.body.data.keys).toHaveLength(2);
    const [keyId] = keys.body.data.keys as string[];
    const read = await server.call("GET", `pki/key/${keyId}`, undefined, server.root);
    expect(read.body.data.key_id).toBe(keyId);
    expect(read.body.data.subject_key_id).toMatch(/^([0-9a-f]{2}:){19}[0-9a-f]{2}$/);
    const renamed = await server.call("POST", `pki/key/${keyId}`, { key_name: "renamed" }, server.root);
    expect(renamed.body.data.key_name).toBe("renamed");
    expect((await server.call("GET", "pki/key/renamed", undefined, server.root)).body.data.key_id).toBe(keyId);
    const refused = await server.call("DELETE", "pki/key/renamed", undefined, server.root);
    expect(refused.status).toBe(400);
    const generated = await server.call("POST", "pki/keys/generate/exported", { key_type: "ec", key_bits: 521, key_name: "spare" }, server.root);
    expect(generated.body.data).toMatchObject({ key_name: "spare", key_type: "ec" });
    expect(generated.body.data.private_key).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect((await server.call("DELETE", "pki/key/spare", undefined, server.root)).status).toBe(204);
  });

  it("generates a root from an existing key (key_ref), P-521, that openssl verifies", async () => {
    await server.call("POST", "sys/mounts/existing", { type: "pki" }, server.root);
    const key = await server.call("POST", "existing/keys/generate/internal", { key_type: "ec", key_bits: 521, key_name: "p521" }, server.root);
    expect(key.body.data.private_key).toBeUndefined();
    const root = await server.call("POST", "existing/root/generate/existing", { common_name: "From Existing", key_ref: "p521", ttl: "24h" }, server.root);
    expect(root.status).toBe(200);
    expect(root.body.data.key_id).toBe(key.body.data.key_id);
    const text = files.openssl("x509", "-noout", "-text", "-in", files.write("p521.pem", root.body.data.certificate));
    expect(text).toContain("ecdsa-with-SHA512");
    expect(text).toContain("NIST CURVE: P-521");
    const missing = await server.call("POST", "existing/root/generate/existing", { common_name: "x", key_ref: "nope" }, server.root);
    expect(missing).toEqual({ status: 400, body: { errors: ["unable to find PKI key for reference: nope"] } });
  });

  it("imports a CA bundle made by openssl (config/ca) and issues from it", async () => {
    await server.call("POST", "sys/mounts/imported", { type: "pki" }, server.root);
    files.openssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "ext.key",
      "-out",
      "ext.pem",
      "-subj",
      "/CN=External CA",
      "-days",
      "60",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
    const bundle = files.openssl("ec", "-in", "ext.key") + files.openssl("x509", "-in", "ext.pem");
    const imported = await server.call("POST", "imported/config/ca", { pem_bundle: bundle }, server.root);
    expect(imported.status).toBe(200);
    expect(imported.body.data.imported_issuers).toHaveLength(1);
    expect(imported.body.data.imported_keys).toHaveLength(1);
    expect(imported.body.data.mapping[imported.body.data.imported_issuers[0]]).toBe(imported.body.data.imported_keys[0]);
    const again = await server.call("POST", "imported/config/ca", { pem_bundle: bundle }, server.root);
    expect(again.body.data).toMatchObject({ imported_issuers: null, imported_keys: null });
    await server.call("POST", "imported/roles/r", { allow_any_name: true, key_type: "ec", ttl: "1h" }, server.root);
    const leaf = await server.call("POST", "imported/issue/r", { common_name: "via.import.test" }, server.root);
    expect(leaf.status).toBe(200);
    expect(files.openssl("verify", "-CAfile", "ext.pem", files.write("imp-leaf.pem", leaf.body.data.certificate))).toContain("OK");
    const empty = await server.call("POST", "imported/config/ca", { pem_bundle: "not pem" }, server.root);
    expect(empty).toEqual({ status: 400, body: { errors: ["no data found in pem_bundle"] } });
  });

  it("deletes every issuer and key with DELETE root (a sudo path)", async () => {
    await server.call("POST", "sys/mounts/gone", { type: "pki" }, server.root);
    await server.call("POST", "gone/root/generate/internal", { common_name: "Short lived" }, server.root);
    await server.writePolicy("pki-admin", 'path "gone/*" { capabilities = ["create", "read", "update", "delete", "list"] }');
    const noSudo = await server.call("DELETE", "gone/root", undefined, await server.tokenWith(["pki-admin"]));
    expect(noSudo.status).toBe(403);
    expect((await server.call("DELETE", "gone/root", undefined, server.root)).status).toBe(204);
    expect(await server.callText("GET", "gone/ca/pem")).toEqual({ status: 204, text: "" });
    expect((await server.call("LIST", "gone/issuers")).status).toBe(404);
  });

  it("signs verbatim: the CSR's subject and SANs as they are", async () => {
    files.openssl(
      "req",
      "-new",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "v.key",
      "-out",
      "v.csr",
      "-subj",
      "/O=Verbatim Org/CN=verbatim.anything",
      "-addext",
      "subjectAltName=DNS:alt.anything,IP:192.0.2.7",
    );
    const csr = files.openssl("req", "-in", "v.csr");
    const signed = await server.call("POST", "pki/sign-verbatim", { csr, ttl: "10m" }, server.root);
    expect(signed.status).toBe(200);
    const text = files.openssl("x509", "-noout", "-text", "-in", files.write("v.pem", signed.body.data.certificate));
    expect(text).toMatch(/Subject: O ?= ?Verbatim Org, CN ?= ?verbatim.anything/);
    expect(text).toContain("DNS:alt.anything, IP Address:192.0.2.7");
  });

  it("tidies certificates expired past the safety buffer, answering 202 as Vault", async () => {
    await server.call("POST", "pki/roles/brief", { allow_any_name: true, ttl: "4s", key_type: "ec" }, server.root);
    const brief = await server.call("POST", "pki/issue/brief", { common_name: "brief.test" }, server.root);
    const revoked = await server.call("POST", "pki/revoke", { serial_number: brief.body.data.serial_number }, server.root);
    expect(revoked.body.data?.state).toBe("revoked");
    const lasting = await server.call("POST", "pki/issue/any", { common_name: "lasting.test" }, server.root);
    // Revocation refuses certificates within 2 s of expiry (as Vault), so brief.test lives 4 s; then one more second of safety buffer.
    await new Promise((resolve) => setTimeout(resolve, 5200));
    const tidy = await server.callText("POST", "pki/tidy", { tidy_cert_store: true, tidy_revoked_certs: true, safety_buffer: "1s" }, server.root);
    expect(tidy.status).toBe(202);
    expect(JSON.parse(tidy.text).warnings).toEqual([
      "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.",
    ]);
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 100 && status.state !== "Finished"; i++) {
      status = (await server.call("GET", "pki/tidy-status", undefined, server.root)).body.data;
      if (status.state !== "Finished") await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toMatchObject({ state: "Finished", tidy_cert_store: true, tidy_revoked_certs: true, safety_buffer: 1 });
    expect(status.cert_store_deleted_count).toBeGreaterThanOrEqual(1);
    expect(status.revoked_cert_deleted_count).toBe(1);
    const certs = (await server.call("LIST", "pki/certs", undefined, server.root)).body.data.keys as string[];
    expect(certs).toContain(lasting.body.data.serial_number.replaceAll(":", "-"));
    expect(certs).not.toContain(brief.body.data.serial_number.replaceAll(":", "-"));
    const crl = files.openssl("crl", "-noout", "-text", "-in", files.write("tidied.crl", (await server.callText("GET", "pki/crl/pem")).text));
    expect(crl).not.toContain(brief.body.data.serial_number.replaceAll(":", "").toUpperCase());
    const none = await server.callText("POST", "pki/tidy", {}, server.root);
    expect(none.status).toBe(202);
    expect(JSON.parse(none.text).warnings[0]).toMatch(/^Manual tidy requested but no tidy operations were set/);
  });
});
