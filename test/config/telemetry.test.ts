import { describe, expect, it } from "vitest";
import { parseServerConfig } from "../../src/config/parse.js";
import { ConfigError, type ServerConfig } from "../../src/config/types.js";

const storageTypes = { inmem: { ha: false } };

function parse(body: Record<string, unknown>, listener: Record<string, unknown> = {}): ServerConfig {
  return parseServerConfig(
    [{ file: "config.hcl", body: { storage: { inmem: {} }, listener: { tcp: { address: "127.0.0.1:8200", tls_disable: true, ...listener } }, ...body } }],
    {},
    storageTypes,
  );
}

function errorOf(body: Record<string, unknown>, listener: Record<string, unknown> = {}): string {
  try {
    parse(body, listener);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("telemetry configuration", () => {
  it("reads the top-level stanza as HCL (a list of one block) and as JSON (an object)", () => {
    expect(parse({ telemetry: [{ prometheus_retention_time: "30s", disable_hostname: true }] }).telemetry).toEqual({
      prometheusRetentionMs: 30_000,
      disableHostname: true,
    });
    expect(parse({ telemetry: { prometheus_retention_time: 0 } }).telemetry).toEqual({ prometheusRetentionMs: 0, disableHostname: false });
    expect(parse({}).telemetry).toBeUndefined();
  });

  it("names the key and what is allowed when a value or key is wrong", () => {
    expect(errorOf({ telemetry: { prometheus_retention_time: "soon" } })).toMatch(/"prometheus_retention_time" must be a duration/);
    expect(errorOf({ telemetry: { disable_hostname: "perhaps" } })).toMatch(/"disable_hostname"/);
    expect(errorOf({ telemetry: { prometheus_retention: "1h" } })).toMatch(
      /"prometheus_retention" is not a telemetry setting \(allowed: prometheus_retention_time, disable_hostname\)/,
    );
    expect(errorOf({ telemetry: "on" })).toMatch(/"telemetry" must be a block/);
  });

  it("warns about Vault's other sinks and ignores them", () => {
    const config = parse({ telemetry: { statsd_address: "127.0.0.1:8125", disable_hostname: true } });
    expect(config.warnings).toContainEqual(expect.stringMatching(/"statsd_address" is a Vault telemetry setting Strongbox does not use/));
  });

  it("reads a listener's unauthenticated_metrics_access", () => {
    expect(parse({}, { telemetry: [{ unauthenticated_metrics_access: true }] }).listeners[0]!.unauthenticatedMetricsAccess).toBe(true);
    expect(parse({}).listeners[0]!.unauthenticatedMetricsAccess).toBeUndefined();
    expect(errorOf({}, { telemetry: { unauthenticated_metrics_access: "yes please" } })).toMatch(/unauthenticated_metrics_access/);
    expect(errorOf({}, { telemetry: { metrics: true } })).toMatch(/"metrics" is not a listener telemetry setting \(allowed: unauthenticated_metrics_access\)/);
  });
});
