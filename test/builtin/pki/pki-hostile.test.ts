import { beforeAll, describe, expect, it } from "vitest";
import type { InProcessServer } from "../../helpers/in-process-server.js";
import { pkiServer } from "./pki-fixtures.js";

/** Values no field should take: each must be refused (or ignored) with a 4xx, never a 500. */
const HOSTILE: unknown[] = [
  null,
  true,
  -1,
  1e308,
  "",
  "../../etc",
  "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----",
  "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
  "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----",
  "-----BEGIN EC PRIVATE KEY-----\nMAMCAQE=\n-----END EC PRIVATE KEY-----",
  "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----",
  "x".repeat(300),
  ["a", 1, null],
  { nested: { deeper: [] } },
  "999999999999h",
  "2024-99-99T99:99:99Z",
  "::::",
  "1.2.3.4.5.6.7.8",
  "http://[::1",
];

const FIELDS = [
  "common_name",
  "alt_names",
  "ip_sans",
  "uri_sans",
  "other_sans",
  "ttl",
  "max_ttl",
  "not_after",
  "format",
  "private_key_format",
  "key_type",
  "key_bits",
  "signature_bits",
  "csr",
  "certificate",
  "pem_bundle",
  "serial_number",
  "private_key",
  "issuer_name",
  "key_name",
  "key_ref",
  "max_path_length",
  "use_csr_values",
  "allowed_domains",
  "allow_subdomains",
  "key_usage",
  "ext_key_usage_oids",
  "cn_validations",
  "policy_identifiers",
  "issuing_certificates",
  "expiry",
  "safety_buffer",
  "default",
  "leaf_not_after_behavior",
  "usage",
  "manual_chain",
  "not_before_duration",
  "exclude_cn_from_sans",
  "tidy_cert_store",
];

const WRITE_PATHS = [
  "root/generate/internal",
  "root/generate/exported",
  "root/generate/existing",
  "root/generate/bogus",
  "intermediate/generate/internal",
  "root/sign-intermediate",
  "intermediate/set-signed",
  "config/ca",
  "root/sign-self-issued",
  "issue/r",
  "sign/r",
  "sign-verbatim",
  "sign-verbatim/r",
  "roles/r2",
  "revoke",
  "revoke-with-key",
  "config/crl",
  "config/urls",
  "config/issuers",
  "root/replace",
  "issuer/default",
  "keys/generate/internal",
  "keys/import",
  "key/default",
  "tidy",
  "issuer/default/issue/r",
];

const READ_PATHS = ["cert/zz", "cert/..", "cert/ca/raw", "cert/crl/raw/pem", "issuer/nope/pem", "issuer/nope/crl/der", "key/nope", "roles/..", "crl/pem", "ca"];

const CREATING = new Set([
  "root/generate/internal",
  "root/generate/exported",
  "root/generate/existing",
  "intermediate/generate/internal",
  "config/ca",
  "intermediate/set-signed",
  "keys/generate/internal",
  "keys/import",
]);

describe("pki under hostile input", () => {
  let server: InProcessServer;
  const resetCa = async () => {
    await server.call("DELETE", "pki/root", undefined, server.root);
    await server.call("POST", "pki/root/generate/internal", { common_name: "Hostile Root", ttl: "700h", key_type: "ec" }, server.root);
  };
  beforeAll(async () => {
    server = await pkiServer();
    await resetCa();
    await server.call("POST", "pki/roles/r", { allow_any_name: true, key_type: "ec", ttl: "1h" }, server.root);
  });

  it("answers every field of every write with a 2xx or 4xx, never a 500", async () => {
    const failures: string[] = [];
    // Every path gets every field; each pair gets three of the values (null, an object, and one more
    // that moves along the list), which keeps the run in the thousands rather than tens of thousands.
    for (const [pathIndex, path] of WRITE_PATHS.entries()) {
      for (const [fieldIndex, field] of FIELDS.entries()) {
        for (const value of [null, { nested: { deeper: [] } }, HOSTILE[(pathIndex * 7 + fieldIndex) % HOSTILE.length]]) {
          // EC keys keep the generating paths quick; the field under test overrides the defaults.
          const body = { common_name: "ok.example.com", key_type: "ec", [field]: value };
          const { status, text } = await server.callText("POST", `pki/${path}`, body, server.root);
          if (status >= 500) failures.push(`${path} ${field}=${JSON.stringify(value).slice(0, 40)} → ${status} ${text.slice(0, 120)}`);
          // What a write created is removed again, so the mount stays one root and one role.
          if (status === 200 && CREATING.has(path)) await resetCa();
        }
      }
    }
    expect(failures).toEqual([]);
  }, 600_000);

  // @peculiar/x509's PEM pattern backtracks exponentially on header-like continuation lines: given
  // the text, one such field of under 300 bytes held the event loop for minutes.
  it("answers at once PEM with crafted header lines, in every field a PEM parser reads", async () => {
    const crafted = (label: string) => `-----BEGIN ${label}-----\na: b\n${" c: d\n".repeat(34)}!`;
    const cases: [string, string, string, string][] = [
      ["sign/r", "csr", "CERTIFICATE REQUEST", "certificate request could not be parsed: no PEM data found"],
      ["sign-verbatim", "csr", "CERTIFICATE REQUEST", "certificate request could not be parsed: no PEM data found"],
      ["revoke", "certificate", "CERTIFICATE", "unable to parse certificate"],
      ["root/sign-self-issued", "certificate", "CERTIFICATE", "error parsing certificate: no PEM data found"],
    ];
    for (const [path, field, label, error] of cases) {
      const { status, body } = await server.call("POST", `pki/${path}`, { [field]: crafted(label) }, server.root);
      expect([path, status, body.errors]).toEqual([path, 400, [error]]);
    }
  });

  it("answers hostile reads with a 4xx or an empty 204, never a 500", async () => {
    for (const path of READ_PATHS) {
      const { status } = await server.callText("GET", `pki/${path}`, undefined, server.root);
      expect(status, path).toBeLessThan(500);
    }
  });
});
