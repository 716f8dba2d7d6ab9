import { describe, expect, it } from "vitest";
import { parseServerConfig } from "../../src/config/parse.js";
import { ConfigError, type ServerConfig } from "../../src/config/types.js";

const storageTypes = { inmem: { ha: false } };
type Env = Record<string, string | undefined>;

function parse(seal: unknown, env: Env = {}): ServerConfig {
  return parseServerConfig(
    [{ file: "node.hcl", body: { storage: { inmem: {} }, listener: { tcp: { address: "127.0.0.1:8200", tls_disable: true } }, seal } }],
    env,
    storageTypes,
  );
}

function errorOf(seal: unknown, env: Env = {}): string {
  try {
    parse(seal, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe('seal "awskms" stanza', () => {
  it("reads Vault's keys", () => {
    const config = parse({
      awskms: {
        region: "eu-west-1",
        kms_key_id: "alias/strongbox",
        endpoint: "http://127.0.0.1:4566",
        access_key: "AK",
        secret_key: "SK",
        session_token: "ST",
      },
    });
    expect(config.seals).toEqual([
      {
        type: "awskms",
        disabled: false,
        file: "node.hcl",
        options: {
          region: "eu-west-1",
          kms_key_id: "alias/strongbox",
          endpoint: "http://127.0.0.1:4566",
          access_key: "AK",
          secret_key: "SK",
          session_token: "ST",
        },
      },
    ]);
  });

  it("lets VAULT_AWSKMS_SEAL_KEY_ID, AWS_KMS_ENDPOINT and AWS_REGION win over the stanza, as Vault does", () => {
    const env = { VAULT_AWSKMS_SEAL_KEY_ID: "key-from-env", AWS_KMS_ENDPOINT: "http://kms.local:1234", AWS_REGION: "ap-south-1" };
    const [seal] = parse({ awskms: { region: "eu-west-1", kms_key_id: "alias/strongbox", endpoint: "http://a:1" } }, env).seals!;
    expect(seal!.options).toEqual({ kms_key_id: "key-from-env", endpoint: "http://kms.local:1234", region: "ap-south-1" });
    expect(parse({ awskms: {} }, { VAULT_AWSKMS_SEAL_KEY_ID: "k", AWS_DEFAULT_REGION: "us-west-2" }).seals![0]!.options.region).toBe("us-west-2");
    expect(parse({ awskms: { kms_key_id: "k" } }).seals![0]!.options.region).toBe("us-east-1");
  });

  it('parses disabled = "true" and allows a second stanza only while migrating', () => {
    const config = parse([{ shamir: {} }, { awskms: { kms_key_id: "k", disabled: "true" } }]);
    expect(config.seals!.map((seal) => [seal.type, seal.disabled])).toEqual([
      ["shamir", false],
      ["awskms", true],
    ]);
    expect(errorOf([{ shamir: {} }, { awskms: { kms_key_id: "k" } }])).toMatch(
      /^node\.hcl: only one seal may be enabled, found "shamir" and "awskms"; mark the one being migrated away from disabled = "true"$/,
    );
    expect(errorOf({ awskms: { kms_key_id: "k", disabled: "maybe" } })).toBe('node.hcl: seal "awskms": "disabled" must be true or false, got "maybe"');
  });

  it("names the file, the key and what is allowed", () => {
    expect(errorOf({ awskms: { region: "eu-west-1" } })).toBe(
      'node.hcl: seal "awskms": "kms_key_id" is required (the KMS key\'s id, ARN or alias; or set VAULT_AWSKMS_SEAL_KEY_ID)',
    );
    expect(errorOf({ gcpckms: {} })).toBe('node.hcl: seal "gcpckms": unknown seal type; known types: awskms, shamir');
    expect(errorOf({ awskms: { kms_key_id: "k", access_key: "AK" } })).toMatch(/"access_key" and "secret_key" must be set together/);
    expect(errorOf({ awskms: { kms_key_id: 12 } })).toBe('node.hcl: seal "awskms": "kms_key_id" must be a string, got 12');
  });

  it("warns about keys it does not know, and absent means the default (Shamir) seal", () => {
    expect(parse({ awskms: { kms_key_id: "k", kms_keyid: "typo" } }).warnings).toContain(
      'node.hcl: seal "awskms": "kms_keyid" is not a known setting; ignored',
    );
    expect(
      parseServerConfig(
        [{ file: "n.hcl", body: { storage: { inmem: {} }, listener: { tcp: { address: "127.0.0.1:8200", tls_disable: true } } } }],
        {},
        storageTypes,
      ).seals,
    ).toBeUndefined();
  });
});
