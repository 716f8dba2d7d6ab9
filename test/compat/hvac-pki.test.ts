import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runHvac } from "../helpers/hvac.js";
import { scratch } from "../builtin/pki/pki-fixtures.js";

/**
 * The calls hvac's own PKI integration tests make (tests/integration_tests/api/secrets_engines/
 * test_pki.py), in the same order of setup, with their fixtures (a self-signed CA and a server
 * CSR) made by openssl; each step prints what the test then asserts.
 */
describe("hvac's PKI integration calls against a dev server", () => {
  let server: DevServer;
  let files: ReturnType<typeof scratch>;
  beforeAll(async () => {
    server = await startDevServer();
    files = scratch();
    files.openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca-key.pem",
      "-out",
      "ca-cert.pem",
      "-subj",
      "/CN=hvac test CA",
      "-days",
      "30",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
    );
    files.openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server-cert.csr", "-subj", "/CN=server.example.com");
  });
  afterAll(async () => {
    files?.done();
    await server?.stop();
  });

  it("runs hvac's secrets.pki calls with the results its tests expect", async () => {
    const fixture = (name: string) => JSON.stringify(readFileSync(join(files.dir, name), "utf8"));
    const script = `
mp = 'pki-integration-test'
out = {}
client.sys.enable_secrets_engine(backend_type='pki', path=mp)
root = client.secrets.pki.generate_root(type='exported', common_name='Vault integration tests', mount_point=mp)
out['root_keys'] = sorted(root['data'].keys())
client.secrets.pki.create_or_update_role(name='role-test', extra_params={'allow_any_name': True, 'ttl': '6h', 'max_ttl': '12h'}, mount_point=mp)
out['ca'] = client.secrets.pki.read_ca_certificate(mount_point=mp)
out['ca_chain'] = client.secrets.pki.read_ca_certificate_chain(mount_point=mp)
listed = client.secrets.pki.list_certificates(mount_point=mp)
out['read_certificate'] = client.secrets.pki.read_certificate(serial=listed['data']['keys'][0], mount_point=mp)['data']['certificate']
out['root_serial_listed'] = root['data']['serial_number'].replace(':', '-') in listed['data']['keys']
out['submit_ca'] = bool(client.secrets.pki.submit_ca_information(pem_bundle=${fixture("ca-key.pem")} + ${fixture("ca-cert.pem")}, mount_point=mp))
client.secrets.pki.set_crl_configuration(expiry='72h', mount_point=mp)
out['crl_config'] = client.secrets.pki.read_crl_configuration(mount_point=mp)['data']['expiry']
out['set_crl'] = bool(client.secrets.pki.set_crl_configuration(expiry='72h', disable=False, mount_point=mp))
urls = {'issuing_certificates': ['http://127.0.0.1:8200/v1/pki/ca'], 'crl_distribution_points': ['http://127.0.0.1:8200/v1/pki/crl']}
out['set_urls'] = bool(client.secrets.pki.set_urls(params=urls, mount_point=mp))
out['urls'] = client.secrets.pki.read_urls(mount_point=mp)['data']['issuing_certificates']
out['crl'] = client.secrets.pki.read_crl(mount_point=mp)
out['rotate_crl'] = client.secrets.pki.rotate_crl(mount_point=mp)['data']
out['generate_intermediate'] = sorted(client.secrets.pki.generate_intermediate(type='exported', common_name='Vault integration tests', mount_point=mp)['data'].keys())
im = mp + '-signed-intermediate-ca'
client.sys.enable_secrets_engine(backend_type='pki', path=im)
csr = client.secrets.pki.generate_intermediate(type='exported', common_name='Vault integration tests intermediate CA', mount_point=im)['data']['csr']
signed = client.secrets.pki.sign_intermediate(csr=csr, common_name='Vault integration tests intermediate CA', mount_point=mp)
out['set_signed'] = client.secrets.pki.set_signed_intermediate(certificate=signed['data']['certificate'], mount_point=im)['data']['imported_issuers'] is not None
client.sys.disable_secrets_engine(path=im)
cert = client.secrets.pki.generate_certificate(name='role-test', common_name='test.example.com', mount_point=mp)
out['generate_certificate'] = sorted(cert['data'].keys())
out['revoke'] = client.secrets.pki.revoke_certificate(serial_number=cert['data']['serial_number'], mount_point=mp)['data']['state']
out['create_role'] = bool(client.secrets.pki.create_or_update_role(name='role-test-2', mount_point=mp))
out['read_role'] = client.secrets.pki.read_role(name='role-test', mount_point=mp)['data']['max_ttl']
out['list_roles'] = client.secrets.pki.list_roles(mount_point=mp)['data']['keys']
out['delete_role'] = client.secrets.pki.delete_role(name='role-test-2', mount_point=mp).status_code
ca = mp + '-test-ca'
client.sys.enable_secrets_engine(backend_type='pki', path=ca)
out['generate_root_other'] = bool(client.secrets.pki.generate_root(type='exported', common_name='Vault integration tests', mount_point=ca))
out['delete_root'] = client.secrets.pki.delete_root(mount_point=ca).status_code
client.sys.disable_secrets_engine(path=ca)
ic = mp + '-intermediate-ca'
client.sys.enable_secrets_engine(backend_type='pki', path=ic)
csr = client.secrets.pki.generate_intermediate(type='exported', common_name='Vault integration tests intermediate CA', mount_point=ic)['data']['csr']
out['sign_intermediate_csr_values'] = bool(client.secrets.pki.sign_intermediate(csr=csr, common_name='Vault integration tests intermediate CA', extra_params={'use_csr_values': True}, mount_point=mp))
client.sys.disable_secrets_engine(path=ic)
out['sign_self_issued'] = client.secrets.pki.sign_self_issued(certificate=${fixture("ca-cert.pem")}, mount_point=mp)['data']['certificate'].startswith('-----BEGIN CERTIFICATE-----')
out['sign_certificate'] = client.secrets.pki.sign_certificate(name='role-test', csr=${fixture("server-cert.csr")}, common_name='another.example.com', mount_point=mp)['data']['serial_number'] != ''
out['sign_verbatim'] = client.secrets.pki.sign_verbatim(csr=${fixture("server-cert.csr")}, name='role-test', mount_point=mp)['data']['serial_number'] != ''
out['tidy'] = client.secrets.pki.tidy(mount_point=mp).status_code
print(json.dumps(out))
`;
    const run = await runHvac(script, { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken });
    expect(run.stderr).toBe("");
    const out = JSON.parse(run.stdout);
    expect(out.root_keys).toEqual([
      "certificate",
      "expiration",
      "issuer_id",
      "issuer_name",
      "issuing_ca",
      "key_id",
      "key_name",
      "private_key",
      "private_key_type",
      "serial_number",
    ]);
    expect(out.ca).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----$/);
    expect(out.ca_chain).toBe(out.ca);
    expect(out.read_certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(out.root_serial_listed).toBe(true);
    expect(out.submit_ca).toBe(true);
    expect(out.crl_config).toBe("72h");
    expect(out.set_crl).toBe(true);
    expect(out.set_urls).toBe(true);
    expect(out.urls).toEqual(["http://127.0.0.1:8200/v1/pki/ca"]);
    expect(out.crl).toMatch(/^-----BEGIN X509 CRL-----/);
    expect(out.rotate_crl).toEqual({ success: true });
    expect(out.generate_intermediate).toEqual(["csr", "key_id", "key_name", "private_key", "private_key_type"]);
    expect(out.set_signed).toBe(true);
    expect(out.generate_certificate).toEqual([
      "ca_chain",
      "certificate",
      "expiration",
      "issuing_ca",
      "not_before",
      "private_key",
      "private_key_type",
      "serial_number",
    ]);
    expect(out.revoke).toBe("revoked");
    expect(out.create_role).toBe(true);
    expect(out.read_role).toBe(12 * 3600);
    expect(out.list_roles).toEqual(["role-test", "role-test-2"]);
    expect(out.delete_role).toBe(204);
    expect(out.generate_root_other).toBe(true);
    expect(out.delete_root).toBe(204);
    expect(out.sign_intermediate_csr_values).toBe(true);
    expect(out.sign_self_issued).toBe(true);
    expect(out.sign_certificate).toBe(true);
    expect(out.sign_verbatim).toBe(true);
    expect(out.tidy).toBe(202);
  });
});
