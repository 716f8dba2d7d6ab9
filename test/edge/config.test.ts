import { describe, expect, it } from "vitest";
import { readEdgeConfig } from "../../adapters/edge/config.js";

const keys = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" };

describe("edge config", () => {
  it("defaults to the servers' table and region and to a 1 s cache", () => {
    expect(readEdgeConfig(keys)).toEqual({
      table: "vault-dynamodb-backend",
      region: "us-east-1",
      endpoint: undefined,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      leaderCacheMs: 1000,
      holderTimeoutMs: 2000,
      maxStaleMs: 5000,
      leaderWaitMs: 5000,
    });
  });

  it("takes numbers from TOML or strings from --var, and a session token for temporary keys", () => {
    const config = readEdgeConfig({ ...keys, AWS_SESSION_TOKEN: "token", LEADER_CACHE_MS: 250, HOLDER_TIMEOUT_MS: "0" });
    expect(config).toMatchObject({ leaderCacheMs: 250, holderTimeoutMs: 0, credentials: { sessionToken: "token" } });
  });

  it("names the variable that is wrong", () => {
    expect(() => readEdgeConfig({})).toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set/);
    expect(() => readEdgeConfig({ ...keys, MAX_STALE_MS: "5s" })).toThrow(/MAX_STALE_MS must be a whole number of milliseconds/);
    expect(() => readEdgeConfig({ ...keys, LEADER_CACHE_MS: -1 })).toThrow(/LEADER_CACHE_MS/);
    expect(() => readEdgeConfig({ ...keys, AWS_DYNAMODB_ENDPOINT: "localhost:8000" })).toThrow(/AWS_DYNAMODB_ENDPOINT must be an http\(s\) URL/);
  });
});
