import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../helpers/file-server.js";
import { runHvac } from "../helpers/hvac.js";

/** The top-level default_lease_ttl / max_lease_ttl of a real server process, as tokens, mounts and tune see them. */
describe("system lease TTLs from the configuration (real process)", () => {
  let node: FileServer;
  let root = "";
  const api = (method: string, path: string, body?: unknown, token = root) => node.api(method, path, body, token);

  beforeAll(async () => {
    node = await startFileServer("ttls", [`default_lease_ttl = "1h"`, `max_lease_ttl     = "2h"`]);
    const init = await api("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
    root = init.body.root_token;
    expect((await api("PUT", "sys/unseal", { key: init.body.keys[0] })).body.sealed).toBe(false);
    expect((await api("POST", "sys/mounts/legacy", { type: "generic" })).status).toBe(204);
  });

  afterAll(async () => {
    await node?.stop();
  });

  it("mounts `generic` as KV version 1", async () => {
    const mount = await api("GET", "sys/mounts/legacy");
    expect(mount.body.data).toMatchObject({ type: "kv", options: { version: "1" } });
  });

  it("reports the system TTLs through tune until the mount sets its own, and KV v1 leases use them", async () => {
    expect((await api("GET", "sys/mounts/legacy/tune")).body.data).toMatchObject({ default_lease_ttl: 3600, max_lease_ttl: 7200 });
    await api("POST", "legacy/app", { password: "x" });
    expect((await api("GET", "legacy/app")).body.lease_duration).toBe(3600);
    expect((await api("POST", "sys/mounts/legacy/tune", { default_lease_ttl: "30m", max_lease_ttl: "1h" })).status).toBe(204);
    expect((await api("GET", "sys/mounts/legacy/tune")).body.data).toMatchObject({ default_lease_ttl: 1800, max_lease_ttl: 3600 });
    expect((await api("GET", "legacy/app")).body.lease_duration).toBe(1800);
  });

  it("refuses a default above the max, and keeps the old values", async () => {
    const defaultAboveMax = await api("POST", "sys/mounts/legacy/tune", { default_lease_ttl: "90m" });
    expect(defaultAboveMax).toEqual({ status: 400, body: { errors: ['"default_lease_ttl" (5400s) cannot be greater than the max lease TTL (3600s)'] } });
    expect((await api("POST", "sys/mounts/legacy/tune", { default_lease_ttl: "soon" })).status).toBe(400);
    expect((await api("POST", "sys/mounts/other", { type: "kv", config: { default_lease_ttl: "5h", max_lease_ttl: "4h" } })).status).toBe(400);
    expect((await api("GET", "sys/mounts/legacy/tune")).body.data).toMatchObject({ default_lease_ttl: 1800, max_lease_ttl: 3600 });
  });

  it("lets a mount's max exceed the system max, as Vault does: its logins' tokens live that long", async () => {
    expect((await api("POST", "sys/mounts/long", { type: "kv", config: { max_lease_ttl: "5h" } })).status).toBe(204);
    expect((await api("GET", "sys/mounts/long/tune")).body.data).toMatchObject({ default_lease_ttl: 3600, max_lease_ttl: 18000 });
    expect((await api("POST", "sys/auth/userpass", { type: "userpass" })).status).toBe(204);
    expect((await api("POST", "sys/auth/userpass/tune", { max_lease_ttl: "3h", default_lease_ttl: "150m" })).status).toBe(204);
    expect((await api("GET", "sys/auth/userpass/tune")).body.data).toMatchObject({ default_lease_ttl: 9000, max_lease_ttl: 10800 });
    await api("POST", "auth/userpass/users/amy", { password: "pw", token_ttl: "4h" });
    const login = await api("POST", "auth/userpass/login/amy", { password: "pw" }, "");
    expect(login.body.auth.lease_duration).toBe(10800);
    await api("POST", "auth/userpass/users/amy", { password: "pw", token_ttl: "0" });
    const byDefault = await api("POST", "auth/userpass/login/amy", { password: "pw" }, "");
    expect(byDefault.body.auth.lease_duration).toBe(9000);
  });

  it("tunes through hvac as its own tests do: mount and auth maxima above the system's, a default above its max refused", async () => {
    const script = [
      "client.sys.enable_secrets_engine('kv', path='hvac-tuned')",
      "client.sys.tune_mount_configuration(path='hvac-tuned', default_lease_ttl='90m', max_lease_ttl='10h', description='tuned by hvac')",
      "mount = client.sys.read_mount_configuration(path='hvac-tuned')['data']",
      "client.sys.enable_auth_method('userpass', path='hvac-users')",
      "client.sys.tune_auth_method(path='hvac-users', default_lease_ttl='3h', max_lease_ttl='12h')",
      "auth = client.sys.read_auth_method_tuning(path='hvac-users')['data']",
      "try:",
      "    client.sys.tune_mount_configuration(path='hvac-tuned', default_lease_ttl='11h')",
      "    refused = None",
      "except hvac.exceptions.InvalidRequest as error:",
      "    refused = str(error)",
      "after = client.sys.read_mount_configuration(path='hvac-tuned')['data']",
      "print(json.dumps({'mount': mount, 'auth': auth, 'refused': refused, 'after': after['default_lease_ttl']}))",
    ].join("\n");
    const run = await runHvac(script, { VAULT_ADDR: node.server.apiAddr, VAULT_TOKEN: root });
    expect(run.code, run.stderr).toBe(0);
    const tuned = JSON.parse(run.stdout);
    expect(tuned.mount).toMatchObject({ default_lease_ttl: 5400, max_lease_ttl: 36000, description: "tuned by hvac" });
    expect(tuned.auth).toMatchObject({ default_lease_ttl: 10800, max_lease_ttl: 43200 });
    expect(tuned.refused).toContain("cannot be greater than the max lease TTL");
    expect(tuned.after).toBe(5400);
  });

  it("gives tokens the system default TTL and caps them at the system max", async () => {
    const plain = await api("POST", "auth/token/create", { policies: ["default"] });
    expect(plain.body.auth.lease_duration).toBe(3600);
    const long = await api("POST", "auth/token/create", { policies: ["default"], ttl: "5h" });
    expect(long.body.auth.lease_duration).toBe(7200);
  });
});
