import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runHvac } from "../helpers/hvac.js";

describe("hvac (Python) against a dev server", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("writes and reads a KV v2 secret, and sees the node as initialized and unsealed", async () => {
    const run = await runHvac(
      [
        "client.secrets.kv.v2.create_or_update_secret(path='hvac-smoke', secret={'answer': '42'})",
        "read = client.secrets.kv.v2.read_secret_version(path='hvac-smoke')",
        "print(json.dumps({'data': read['data']['data'], 'initialized': client.sys.is_initialized(), 'sealed': client.sys.is_sealed()}))",
      ].join("\n"),
      { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken },
    );
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ data: { answer: "42" }, initialized: true, sealed: false });
  });
});
