/** The built CLI's policy, auth, login, token and generic commands against `strongbox server -dev`. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runCli as strongbox } from "../helpers/server-process.js";

const POLICY = `path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n`;

describe("strongbox policy, auth, login and token commands", () => {
  let server: DevServer;
  let home: string;
  /** Root's environment; `user` has no VAULT_TOKEN, so commands use ~/.vault-token. */
  let root: NodeJS.ProcessEnv;
  let user: NodeJS.ProcessEnv;

  beforeAll(async () => {
    server = await startDevServer();
    home = mkdtempSync(join(tmpdir(), "strongbox-auth-home-"));
    root = { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken, HOME: home };
    user = { VAULT_ADDR: server.addr, HOME: home };
    expect((await strongbox(["kv", "put", "secret/app/config", "db=postgres"], root)).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("writes, reads, lists and deletes policies", async () => {
    const file = join(home, "app-read.hcl");
    writeFileSync(file, POLICY);
    expect(await strongbox(["policy", "write", "app-read", file], root)).toMatchObject({ code: 0, stdout: "Success! Uploaded policy: app-read\n" });
    expect(await strongbox(["policy", "write", "piped", "-"], root, POLICY)).toMatchObject({ code: 0 });
    expect((await strongbox(["policy", "read", "app-read"], root)).stdout).toBe(POLICY);
    expect((await strongbox(["policy", "list"], root)).stdout).toBe("app-read\ndefault\npiped\nroot\n");
    expect(await strongbox(["policy", "delete", "piped"], root)).toMatchObject({ code: 0, stdout: "Success! Deleted policy: piped\n" });
    const missing = await strongbox(["policy", "read", "piped"], root);
    expect(missing).toMatchObject({ code: 2, stderr: "Error: no policy named: piped\n" });
    const invalid = await strongbox(["policy", "write", "bad", "-"], root, `path "x" { capabilities = ["fly"] }`);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/invalid capability "fly"/);
  });

  it("enables, lists and disables auth methods", async () => {
    expect(await strongbox(["auth", "enable", "userpass"], root)).toMatchObject({ code: 0, stdout: "Success! Enabled userpass auth method at: userpass/\n" });
    expect(await strongbox(["auth", "enable", "-path=machines", "-description=CI jobs", "approle"], root)).toMatchObject({ code: 0 });
    expect(await strongbox(["auth", "enable", "-path=scratch", "userpass"], root)).toMatchObject({ code: 0 });
    const list = (await strongbox(["auth", "list"], root)).stdout;
    expect(list).toMatch(/^Path\s+Type\s+Accessor\s+Description$/m);
    expect(list).toMatch(/^machines\/\s+approle\s+auth_approle_[0-9a-f]{8}\s+CI jobs$/m);
    expect(list).toMatch(/^token\/\s+token\s+auth_token_[0-9a-f]{8}\s+token based credentials$/m);
    expect(await strongbox(["auth", "disable", "scratch"], root)).toMatchObject({
      code: 0,
      stdout: "Success! Disabled the auth method (if it existed) at: scratch/\n",
    });
    expect((await strongbox(["auth", "list"], root)).stdout).not.toContain("scratch/");
  });

  it("logs in with userpass, stores the token (0600) and uses it", async () => {
    expect(await strongbox(["write", "auth/userpass/users/alice", "password=s3cret", "token_policies=app-read"], root)).toMatchObject({
      code: 0,
      stdout: "Success! Data written to: auth/userpass/users/alice\n",
    });
    expect((await strongbox(["list", "auth/userpass/users"], root)).stdout).toMatch(/^Keys\n----\nalice\n$/);
    expect((await strongbox(["read", "-field=token_policies", "auth/userpass/users/alice"], root)).stdout).toBe("[app-read]");

    const login = await strongbox(["login", "-method=userpass", "username=alice", "password=s3cret"], user);
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(/^Success! You are now authenticated/);
    expect(login.stdout).toMatch(/^token_policies\s+\["app-read" "default"\]$/m);
    expect(login.stdout).toMatch(/^token_meta_username\s+alice$/m);
    const tokenFile = join(home, ".vault-token");
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(login.stdout).toContain(readFileSync(tokenFile, "utf8"));

    expect((await strongbox(["kv", "get", "-field=db", "secret/app/config"], user)).stdout).toBe("postgres");
    const forbidden = await strongbox(["kv", "put", "secret/app/config", "db=evil"], user);
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toMatch(/HTTP 403: 1 error occurred:\n\t\* permission denied/);

    // Without password=, the password is read from stdin (a prompt on a terminal).
    const prompted = await strongbox(["login", "-method=userpass", "-token-only", "username=alice"], user, "s3cret\n");
    expect(prompted.stdout).toMatch(/^hvs\.[0-9A-Za-z]{24}$/);
    const wrong = await strongbox(["login", "-method=userpass", "username=alice", "password=nope"], user);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/invalid username or password/);
    expect(wrong.stderr).not.toContain("nope");
  });

  it("logs in with AppRole using IDs read with the generic commands", async () => {
    expect((await strongbox(["write", "auth/machines/role/ci", "token_policies=app-read", "token_ttl=10m"], root)).code).toBe(0);
    const roleId = (await strongbox(["read", "-field=role_id", "auth/machines/role/ci/role-id"], root)).stdout;
    const secretId = (await strongbox(["write", "-f", "-field=secret_id", "auth/machines/role/ci/secret-id"], root)).stdout;
    expect(roleId).toMatch(/^[0-9a-f-]{36}$/);
    const login = await strongbox(["login", "-method=approle", "-path=machines", "-format=json", `role_id=${roleId}`, `secret_id=${secretId}`], user);
    expect(login.code).toBe(0);
    expect(JSON.parse(login.stdout).auth).toMatchObject({ policies: ["app-read", "default"], lease_duration: 600, metadata: { role_name: "ci" } });
    expect((await strongbox(["token", "lookup", "-field=path"], user)).stdout).toBe("auth/machines/login");
  });

  it("creates, looks up and revokes tokens, and logs in with a token", async () => {
    const created = JSON.parse((await strongbox(["token", "create", "-policy=app-read", "-ttl=1h", "-metadata=team=a", "-format=json"], root)).stdout).auth;
    expect(created).toMatchObject({ policies: ["app-read", "default"], lease_duration: 3600, metadata: { team: "a" } });
    const lookup = await strongbox(["token", "lookup", created.client_token], root);
    expect(lookup.stdout).toMatch(/^policies\s+\[app-read default\]$/m);
    expect(lookup.stdout).toMatch(/^meta\s+map\[team:a\]$/m);
    expect((await strongbox(["token", "lookup", "-accessor", "-field=display_name", created.accessor], root)).stdout).toBe("token");

    expect((await strongbox(["login", created.client_token], user)).code).toBe(0);
    expect(readFileSync(join(home, ".vault-token"), "utf8")).toBe(created.client_token);
    expect((await strongbox(["kv", "get", "-field=db", "secret/app/config"], user)).stdout).toBe("postgres");
    expect(await strongbox(["token", "revoke", created.client_token], root)).toMatchObject({ code: 0, stdout: "Success! Revoked token (if it existed)\n" });
    expect((await strongbox(["kv", "get", "secret/app/config"], user)).code).toBe(2);
    expect((await strongbox(["login", "hvs.not-a-token"], user)).code).toBe(2);
  });
});
