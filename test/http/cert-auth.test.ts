import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { beforeAll, describe, expect, it } from "vitest";
import { crlRevoking, type Issued, issue, textExtension } from "../helpers/test-pki.js";
import { type InProcessServer, type Json, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

/**
 * The cert auth method in-process: the chain reaches the core as the listener would hand it
 * (`RequestEnv.clientCertificates`, DER, leaf first). The real TLS listener path is in
 * test/listener/cert-login-process.test.ts.
 */
describe("cert auth method", () => {
  let server: InProcessServer;
  let root: Issued;
  let intermediate: Issued;
  let web: Issued;
  let otherRoot: Issued;
  let stranger: Issued;

  const login = async (chain: Issued[], body: Json = {}, from = "127.0.0.1") => {
    const response = await server.app.fetch(new Request("http://strongbox.test/v1/auth/cert/login", { method: "POST", body: JSON.stringify(body) }), {
      clientAddress: from,
      clientCertificates: chain.map((link) => link.der),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };

  beforeAll(async () => {
    server = await unsealedServer();
    root = await issue({ subject: "CN=Test Root", ca: true });
    intermediate = await issue({ subject: "CN=Test Intermediate", ca: true, issuer: root });
    web = await issue({
      subject: "CN=web.example.com, OU=platform",
      issuer: intermediate,
      sans: [
        { type: "dns", value: "web.example.com" },
        { type: "url", value: "spiffe://example.com/web" },
      ],
      extensions: [textExtension("1.2.3.4.5", "team-a")],
    });
    otherRoot = await issue({ subject: "CN=Other Root", ca: true });
    stranger = await issue({ subject: "CN=web.example.com", issuer: otherRoot, sans: [{ type: "dns", value: "web.example.com" }] });
    const { call, root: token, writePolicy } = server;
    expect((await call("POST", "sys/auth/cert", { type: "cert" }, token)).status).toBe(204);
    expect((await call("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, token)).status).toBe(204);
    await call("POST", "secret/data/web/config", { data: { port: "443" } }, token);
    await call("POST", "secret/data/admin/config", { data: { key: "hidden" } }, token);
    await writePolicy("web-read", 'path "secret/data/web/*" { capabilities = ["read"] }');
  });

  it("logs in with a chain to a trusted CA; the token carries Vault's metadata and reads only what its policy allows", async () => {
    const { call, root: token } = server;
    const written = await call(
      "POST",
      "auth/cert/certs/web",
      { certificate: root.pem, allowed_common_names: "*.example.com", token_policies: "web-read", token_ttl: "1h", token_max_ttl: "2h" },
      token,
    );
    expect(written.status, JSON.stringify(written.body)).toBe(204);
    const read = await call("GET", "auth/cert/certs/web", undefined, token);
    expect(read.body.data).toMatchObject({
      certificate: root.pem,
      allowed_common_names: ["*.example.com"],
      token_policies: ["web-read"],
      token_ttl: 3600,
      display_name: "web",
    });
    expect((await call("LIST", "auth/cert/certs", undefined, token)).body.data.keys).toEqual(["web"]);

    const answer = await login([web, intermediate]);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const auth = answer.body.auth;
    expect(auth.policies).toEqual(["default", "web-read"]);
    expect(auth.lease_duration).toBe(3600);
    expect(auth.renewable).toBe(true);
    expect(auth.metadata).toEqual({
      cert_name: "web",
      common_name: "web.example.com",
      serial_number: String(BigInt(`0x${web.certificate.serialNumber}`)),
      subject_key_id: expect.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/),
      authority_key_id: expect.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/),
    });
    const self = await call("GET", "auth/token/lookup-self", undefined, auth.client_token);
    expect(self.body.data.display_name).toBe("cert-web");
    expect(self.body.data.path).toBe("auth/cert/login");

    expect((await call("GET", "secret/data/web/config", undefined, auth.client_token)).body.data.data).toEqual({ port: "443" });
    const denied = await call("GET", "secret/data/admin/config", undefined, auth.client_token);
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual(PERMISSION_DENIED);
  });

  it("refuses a login without a certificate, from an untrusted CA, or with a chain missing its intermediate", async () => {
    const none = await login([]);
    expect(none).toEqual({ status: 400, body: { errors: ["client certificate must be supplied"] } });
    const untrusted = await login([stranger, otherRoot]);
    expect(untrusted).toEqual({ status: 400, body: { errors: ["invalid certificate or no client certificate supplied"] } });
    expect((await login([web])).status).toBe(400);
    // The CA itself presented as a client certificate is not a leaf the CA entry signed.
    expect((await login([intermediate])).body.auth).toBeUndefined();
  });

  it("enforces the entry's constraints: names, SANs, OUs and required extensions", async () => {
    const { call, root: token } = server;
    const attempt = async (constraints: Json) => {
      await call("DELETE", "auth/cert/certs/web", undefined, token);
      await call("POST", "auth/cert/certs/web", { certificate: root.pem, token_policies: "web-read", ...constraints }, token);
      return (await login([web, intermediate], { name: "web" })).status;
    };
    expect(await attempt({ allowed_dns_sans: "web.example.com" })).toBe(200);
    expect(await attempt({ allowed_dns_sans: "db.example.com" })).toBe(400);
    expect(await attempt({ allowed_uri_sans: "spiffe://example.com/*" })).toBe(200);
    expect(await attempt({ allowed_uri_sans: "spiffe://other/*" })).toBe(400);
    expect(await attempt({ allowed_organizational_units: "platform" })).toBe(200);
    expect(await attempt({ allowed_organizational_units: "finance" })).toBe(400);
    expect(await attempt({ required_extensions: "1.2.3.4.5:team-*" })).toBe(200);
    expect(await attempt({ required_extensions: "1.2.3.4.5:team-b" })).toBe(400);
    expect(await attempt({ required_extensions: "1.2.3.4.6:*" })).toBe(400);
    expect(await attempt({ allowed_common_names: "db.example.com" })).toBe(400);
    const refused = await login([web, intermediate], { name: "web" });
    expect(refused.body).toEqual({ errors: ["no chain matching all constraints could be found for this login certificate"] });
    expect(await attempt({ allowed_names: "web.example.com" })).toBe(200);
    await attempt({ allowed_metadata_extensions: "1.2.3.4.5,1.2.3.4.9" });
    const withExtensions = await login([web, intermediate], { name: "web" });
    expect(withExtensions.body.auth.metadata).toMatchObject({ "1-2-3-4-5": "team-a", "1-2-3-4-9": "" });
  });

  it("refuses a certificate a CRL revokes, and accepts it again once the CRL is deleted", async () => {
    const { call, root: token } = server;
    await call("DELETE", "auth/cert/certs/web", undefined, token);
    await call("POST", "auth/cert/certs/web", { certificate: root.pem, token_policies: "web-read" }, token);
    expect((await login([web, intermediate])).status).toBe(200);
    const crl = await crlRevoking(intermediate, [web]);
    expect((await call("POST", "auth/cert/crls/intermediate", { crl }, token)).status).toBe(204);
    const read = await call("GET", "auth/cert/crls/intermediate", undefined, token);
    expect(read.body.data).toEqual({ serials: { [String(BigInt(`0x${web.certificate.serialNumber}`))]: {} } });
    expect((await login([web, intermediate])).status).toBe(400);
    await call("DELETE", "auth/cert/crls/intermediate", undefined, token);
    expect((await login([web, intermediate])).status).toBe(200);
    expect((await call("POST", "auth/cert/crls/bad", { crl: "not a crl" }, token)).body).toEqual({ errors: ["failed to parse CRL"] });
  });

  it("trusts a single non-CA certificate byte for byte, and checks token_bound_cidrs at login", async () => {
    const { call, root: token } = server;
    const pinned = await issue({ subject: "CN=pinned" });
    await call("POST", "auth/cert/certs/pinned", { certificate: pinned.pem, token_policies: "web-read", token_bound_cidrs: "10.0.0.0/8" }, token);
    const ok = await login([pinned], { name: "pinned" }, "10.1.2.3");
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.auth.metadata.cert_name).toBe("pinned");
    expect(await login([pinned], { name: "pinned" }, "192.168.1.1")).toEqual({ status: 403, body: PERMISSION_DENIED });
    const lookalike = await issue({ subject: "CN=pinned" });
    expect((await login([lookalike], { name: "pinned" }, "10.1.2.3")).status).toBe(400);
  });

  it("refuses chains that break a CA's path length, or carry a critical extension it cannot check", async () => {
    const { call, root: token } = server;
    const strictRoot = await issue({ subject: "CN=Strict Root", ca: true, pathLength: 0 });
    const strictMid = await issue({ subject: "CN=Strict Mid", ca: true, issuer: strictRoot });
    const underMid = await issue({ subject: "CN=under-mid", issuer: strictMid });
    const direct = await issue({ subject: "CN=direct", issuer: strictRoot });
    await call("POST", "auth/cert/certs/strict", { certificate: strictRoot.pem }, token);
    expect((await login([direct], { name: "strict" })).status).toBe(200);
    expect(await login([underMid, strictMid], { name: "strict" })).toEqual({
      status: 400,
      body: { errors: ["invalid certificate or no client certificate supplied"] },
    });
    const demanding = await issue({
      subject: "CN=demanding",
      issuer: strictRoot,
      extensions: [new x509.Extension("1.2.3.4.99", true, new Uint8Array([5, 0]))],
    });
    expect((await login([demanding], { name: "strict" })).status).toBe(400);
  });

  it("answers bad input with Vault's 400s, never a 500", async () => {
    const { call, root: token } = server;
    expect((await call("POST", "auth/cert/certs/x", {}, token)).body).toEqual({ errors: ["missing certificate"] });
    expect((await call("POST", "auth/cert/certs/x", { certificate: "garbage" }, token)).body).toEqual({ errors: ["failed to parse certificate"] });
    expect((await call("POST", "auth/cert/certs/x", { certificate: root.pem, required_extensions: "nonsense" }, token)).status).toBe(400);
    expect((await call("POST", "auth/cert/certs/x", { certificate: root.pem, token_ttl: "forever" }, token)).status).toBe(400);
    expect((await call("POST", "auth/cert/config", { disable_binding: "maybe" }, token)).status).toBe(400);
    expect((await call("GET", "auth/cert/certs/missing", undefined, token)).status).toBe(404);
    const garbage = await server.app.fetch(new Request("http://strongbox.test/v1/auth/cert/login", { method: "POST", body: "{}" }), {
      clientCertificates: [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])],
    });
    expect(garbage.status).toBe(400);
  });

  it("renews only with the login's certificate (unless disable_binding), while the entry exists with the same policies", async () => {
    const { call, root: token } = server;
    const renewSelf = async (clientToken: string, chain: Issued[]) => {
      const response = await server.app.fetch(
        new Request("http://strongbox.test/v1/auth/token/renew-self", { method: "POST", headers: { "x-vault-token": clientToken }, body: "{}" }),
        { clientAddress: "127.0.0.1", clientCertificates: chain.map((link) => link.der) },
      );
      return { status: response.status, body: (await response.json()) as Json };
    };
    await call("POST", "auth/cert/certs/renewable", { certificate: root.pem, token_policies: "web-read", token_ttl: "1h" }, token);
    const loggedIn = await login([web, intermediate], { name: "renewable" });
    expect(loggedIn.status, JSON.stringify(loggedIn.body)).toBe(200);
    const clientToken = loggedIn.body.auth.client_token;
    expect((await renewSelf(clientToken, [web, intermediate])).status).toBe(200);
    expect(await renewSelf(clientToken, [])).toEqual({ status: 400, body: { errors: ["no client certificate found"] } });
    const sibling = await issue({ subject: "CN=web.example.com", issuer: intermediate, sans: [{ type: "dns", value: "web.example.com" }] });
    expect((await renewSelf(clientToken, [sibling, intermediate])).body).toEqual({
      errors: ["client identity during renewal not matching client identity used during login"],
    });
    await call("POST", "auth/cert/config", { disable_binding: true }, token);
    expect((await renewSelf(clientToken, [])).status).toBe(200);
    await call("POST", "auth/cert/certs/renewable", { token_policies: "web-read,other" }, token);
    expect((await renewSelf(clientToken, [])).body).toEqual({ errors: ["policies have changed, not renewing"] });
    await call("DELETE", "auth/cert/certs/renewable", undefined, token);
    expect((await renewSelf(clientToken, [])).status).toBe(400);
    await call("POST", "auth/cert/config", { disable_binding: false }, token);
  });

  it("keeps config with Vault's defaults", async () => {
    const { call, root: token } = server;
    expect((await call("GET", "auth/cert/config", undefined, token)).body.data).toMatchObject({
      disable_binding: false,
      enable_identity_alias_metadata: false,
    });
    expect((await call("POST", "auth/cert/config", { disable_binding: true }, token)).status).toBe(204);
    expect((await call("GET", "auth/cert/config", undefined, token)).body.data.disable_binding).toBe(true);
  });
});
