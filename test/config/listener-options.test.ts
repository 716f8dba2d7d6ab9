import { describe, expect, it } from "vitest";
import { parseServerConfig } from "../../src/config/parse.js";
import { ConfigError, type ListenerConfig } from "../../src/config/types.js";

const storageTypes = { inmem: { ha: false } };
const tlsListener = { address: "127.0.0.1:8200", tls_cert_file: "/tls/cert.pem", tls_key_file: "/tls/key.pem" };
const plainListener = { address: "127.0.0.1:8200", tls_disable: true };

function listener(settings: Record<string, unknown>, base: Record<string, unknown> = tlsListener): ListenerConfig {
  const config = parseServerConfig([{ file: "vault.hcl", body: { storage: { inmem: {} }, listener: { tcp: [{ ...base, ...settings }] } } }], {}, storageTypes);
  expect(config.warnings).toEqual([]);
  return config.listeners[0]!;
}

function refusal(settings: Record<string, unknown>, base: Record<string, unknown> = tlsListener): string {
  try {
    listener(settings, base);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(settings)}`);
}

const at = 'vault.hcl: listener "tcp" #1';

describe("listener TLS settings", () => {
  it("enforces a client-certificate requirement with its CA", () => {
    expect(listener({ tls_require_and_verify_client_cert: "true", tls_client_ca_file: "/tls/ca.pem" })).toMatchObject({
      tlsRequireClientCert: true,
      tlsClientCaFile: "/tls/ca.pem",
    });
    expect(listener({ tls_require_and_verify_client_cert: true }).tlsClientCaFile).toBeUndefined();
    expect(listener({ tls_disable_client_certs: true }).tlsRequireClientCert).toBeUndefined();
    expect(listener({ tls_disable_client_certs: true }).tlsDisableClientCerts).toBe(true);
    expect(listener({}).tlsDisableClientCerts).toBeUndefined();
  });

  it("refuses client-certificate settings that would do nothing or contradict each other", () => {
    expect(refusal({ tls_client_ca_file: "/tls/ca.pem" })).toBe(
      `${at}: "tls_client_ca_file" only takes effect with tls_require_and_verify_client_cert = true (without it, client certificates are asked for but judged by the cert auth method, not this CA); set that, or remove it`,
    );
    expect(refusal({ tls_require_and_verify_client_cert: true, tls_disable_client_certs: true })).toBe(
      `${at}: tls_disable_client_certs and tls_require_and_verify_client_cert are mutually exclusive; set at most one to true`,
    );
    expect(refusal({ tls_require_and_verify_client_cert: true }, plainListener)).toBe(
      `${at}: "tls_require_and_verify_client_cert" cannot be enforced: tls_disable = true turns TLS off on this listener`,
    );
    expect(refusal({ tls_min_version: "tls13" }, plainListener)).toBe(
      `${at}: "tls_min_version" is set, but tls_disable = true turns TLS off on this listener; remove one of them`,
    );
  });

  it("maps TLS versions and refuses TLS 1.0/1.1 and inverted bounds", () => {
    expect(listener({ tls_min_version: "tls13" })).toMatchObject({ tlsMinVersion: "TLSv1.3" });
    expect(listener({ tls_max_version: "tls12" })).toMatchObject({ tlsMaxVersion: "TLSv1.2" });
    expect(refusal({ tls_min_version: "tls10" })).toBe(
      `${at}: "tls_min_version" must be "tls12" or "tls13": TLS 1.0 and 1.1 are refused (insecure, and off in OpenSSL 3); got "tls10"`,
    );
    expect(refusal({ tls_max_version: "TLS1.3" })).toMatch(/"tls_max_version" must be "tls12" or "tls13": unknown version/);
    expect(refusal({ tls_min_version: "tls13", tls_max_version: "tls12" })).toBe(`${at}: tls_min_version "tls13" is above tls_max_version "tls12"`);
  });

  it("translates Go cipher suite names to OpenSSL's and refuses unknown or insecure ones", () => {
    expect(
      listener({ tls_cipher_suites: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_AES_256_GCM_SHA384" }).tlsCiphers,
    ).toBe("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:TLS_AES_256_GCM_SHA384");
    expect(refusal({ tls_cipher_suites: "TLS_RSA_WITH_3DES_EDE_CBC_SHA" })).toMatch(
      /"TLS_RSA_WITH_3DES_EDE_CBC_SHA" is not a supported cipher suite \(RC4 and 3DES suites are refused as insecure\)/,
    );
    expect(refusal({ tls_cipher_suites: "AES128-SHA" })).toMatch(/"AES128-SHA" is not a supported cipher suite; supported: TLS_RSA_WITH_AES_128_CBC_SHA, /);
  });
});

describe("listener X-Forwarded-For and PROXY protocol settings", () => {
  it("parses X-Forwarded-For settings, with Vault's code defaults (reject flags off)", () => {
    const { xForwardedFor } = listener({ x_forwarded_for_authorized_addrs: "10.0.0.0/8, 192.0.2.7", x_forwarded_for_hop_skips: "1" });
    expect(xForwardedFor).toMatchObject({ hopSkips: 1, rejectNotAuthorized: false, rejectNotPresent: false });
    expect(xForwardedFor!.authorizedAddrs.map((block) => block.text)).toEqual(["10.0.0.0/8", "192.0.2.7/32"]);
    expect(
      listener({ x_forwarded_for_authorized_addrs: ["::1"], x_forwarded_for_reject_not_present: true, x_forwarded_for_reject_not_authorized: "true" })
        .xForwardedFor,
    ).toMatchObject({
      rejectNotAuthorized: true,
      rejectNotPresent: true,
    });
  });

  it("refuses X-Forwarded-For settings that do nothing or are malformed", () => {
    expect(refusal({ x_forwarded_for_reject_not_present: true })).toBe(
      `${at}: "x_forwarded_for_reject_not_present" is set, but X-Forwarded-For is not enabled: set x_forwarded_for_authorized_addrs too, or remove it`,
    );
    expect(refusal({ x_forwarded_for_authorized_addrs: "" })).toBe(
      `${at}: "x_forwarded_for_authorized_addrs" must name at least one address or CIDR block (${at})`,
    );
    expect(refusal({ x_forwarded_for_authorized_addrs: "10.0.0.0/33" })).toBe(
      `${at}: "x_forwarded_for_authorized_addrs": "10.0.0.0/33" is not an IP address or CIDR block`,
    );
    expect(refusal({ x_forwarded_for_authorized_addrs: "10.0.0.1", x_forwarded_for_hop_skips: -1 })).toBe(
      `${at}: "x_forwarded_for_hop_skips" must be a whole number of hops, 0 or more; got -1`,
    );
  });

  it("parses PROXY protocol behaviours and requires authorized addresses where Vault does", () => {
    expect(listener({ proxy_protocol_behavior: "use_always" }).proxyProtocol).toEqual({ behavior: "use_always", authorizedAddrs: [] });
    const { proxyProtocol } = listener({ proxy_protocol_behavior: "deny_unauthorized", proxy_protocol_authorized_addrs: ["10.0.1.0/24"] });
    expect(proxyProtocol?.behavior).toBe("deny_unauthorized");
    expect(refusal({ proxy_protocol_behavior: "allow_authorized" })).toBe(
      `${at}: proxy_protocol_behavior = "allow_authorized" needs proxy_protocol_authorized_addrs`,
    );
    expect(refusal({ proxy_protocol_behavior: "always" })).toBe(
      `${at}: "proxy_protocol_behavior" must be one of use_always, allow_authorized, deny_unauthorized; got "always"`,
    );
    expect(refusal({ proxy_protocol_authorized_addrs: "10.0.0.1" })).toMatch(/"proxy_protocol_authorized_addrs" is set, but proxy_protocol_behavior is not/);
    expect(refusal({ proxy_protocol_behavior: "use_always", proxy_protocol_authorized_addrs: "10.0.0.1" })).toMatch(
      /has no effect with proxy_protocol_behavior = "use_always"/,
    );
  });
});

describe("other Vault listener settings", () => {
  it("enforces the HTTP timeouts", () => {
    expect(listener({ http_read_header_timeout: "10s", http_read_timeout: 30, http_write_timeout: "0", http_idle_timeout: "5m" }).httpTimeouts).toEqual({
      readHeaderMs: 10_000,
      readMs: 30_000,
      writeMs: 0,
      idleMs: 300_000,
    });
  });

  it("accepts a feature switch only at the value that asks for nothing", () => {
    expect(() =>
      listener({
        chroot_namespace: "",
        redact_version: false,
        profiling: [{ unauthenticated_pprof_access: false }],
        disable_replication_status_endpoints: true,
        disable_request_limiter: false,
      }),
    ).not.toThrow();
    expect(refusal({ chroot_namespace: "admin" })).toBe(`${at}: "chroot_namespace": namespaces are not implemented, so only "" is accepted`);
    expect(refusal({ redact_addresses: "true" })).toMatch(/"redact_addresses": redaction is not implemented/);
    expect(refusal({ profiling: { unauthenticated_pprof_access: true } })).toBe(
      `${at}: "profiling": "unauthenticated_pprof_access": sys/pprof does not exist, so only false is accepted`,
    );
    expect(refusal({ inflight_requests_logging: { unauthenticated_in_flight_requests_access: true } })).toMatch(/sys\/in-flight-req does not exist/);
  });

  it("refuses settings for features Strongbox does not have, saying why", () => {
    expect(refusal({ custom_response_headers: { default: { "X-A": ["b"] } } })).toBe(
      `${at}: "custom_response_headers" is not supported: custom response headers are not implemented; remove it (a proxy in front can add headers)`,
    );
    expect(refusal({ max_request_duration: "90s" })).toMatch(/"max_request_duration" is not supported: requests are not cancelled/);
    expect(refusal({ require_request_header: true })).toMatch(/"require_request_header" is not supported: it is a Vault Agent\/Proxy listener setting/);
    expect(refusal({ x_forwarded_for_client_cert_header: "X-Client-Cert" })).toMatch(/passed by a proxy in a header are not accepted/);
  });
});
