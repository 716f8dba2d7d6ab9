import { describe, expect, it } from "vitest";
import { parseServerConfig } from "../../src/config/parse.js";
import { ConfigError, type ServerConfig } from "../../src/config/types.js";

const storageTypes = { inmem: { ha: false } };

function parse(body: Record<string, unknown>): ServerConfig {
  return parseServerConfig(
    [{ file: "config.hcl", body: { storage: { inmem: {} }, listener: { tcp: { address: "127.0.0.1:8200", tls_disable: true } }, ...body } }],
    {},
    storageTypes,
  );
}

function errorOf(body: Record<string, unknown>): string {
  try {
    parse(body);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("parseServerConfig: default_lease_ttl and max_lease_ttl", () => {
  it("leaves both out when absent (the core then uses Vault's 768h)", () => {
    expect(parse({})).not.toHaveProperty("leaseTtls");
  });

  it("reads durations and bare seconds; the other key keeps 768h", () => {
    expect(parse({ default_lease_ttl: "1h", max_lease_ttl: "24h" }).leaseTtls).toEqual({ defaultSeconds: 3600, maxSeconds: 86_400 });
    expect(parse({ max_lease_ttl: 7_200, default_lease_ttl: 60 }).leaseTtls).toEqual({ defaultSeconds: 60, maxSeconds: 7_200 });
    expect(parse({ default_lease_ttl: "30m" }).leaseTtls).toEqual({ defaultSeconds: 1_800, maxSeconds: 2_764_800 });
  });

  it("rejects a default above the max, naming file, keys and values", () => {
    expect(errorOf({ default_lease_ttl: "2h", max_lease_ttl: "1h" })).toBe(
      'config.hcl: "default_lease_ttl" is 7200s, more than "max_lease_ttl" (3600s, config.hcl); set default_lease_ttl to at most the max lease TTL',
    );
    expect(errorOf({ default_lease_ttl: "1000h" })).toBe(
      'config.hcl: "default_lease_ttl" is 3600000s, more than "max_lease_ttl" (not set: 768h = 2764800s); set default_lease_ttl to at most the max lease TTL',
    );
    // Vault refuses a max below the (unset) 768h default too, rather than lowering the default.
    expect(errorOf({ max_lease_ttl: "1h" })).toBe(
      '"default_lease_ttl" is not set, so it is 768h (2764800s), more than "max_lease_ttl" (3600s, config.hcl); set default_lease_ttl to at most the max lease TTL',
    );
  });

  it.each([["soon"], [0], ["0s"], ["1500ms"], [-5], [true]])("rejects %j, saying what is allowed", (value) => {
    expect(errorOf({ max_lease_ttl: value })).toMatch(/^config\.hcl: "max_lease_ttl" must be /);
  });
});
