/** Vault's user lockout for userpass and AppRole, and its sys endpoints. */
import { beforeEach, describe, expect, it } from "vitest";
import { type InProcessServer, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

const LOCKED = { status: 400, body: { errors: ["permission denied"] } };
const WRONG = { status: 400, body: { errors: ["invalid username or password"] } };

describe("userpass lockout", () => {
  let h: InProcessServer;
  let accessor: string;
  const login = (name: string, password: string) => h.call("PUT", `auth/userpass/login/${name}`, { password });
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/auth/userpass", { type: "userpass" }, h.root);
    await h.call("PUT", "auth/userpass/users/alice", { password: "right" }, h.root);
    accessor = (await h.call("GET", "sys/auth", undefined, h.root)).body.data["userpass/"].accessor;
  });

  it("locks a user out after 5 failures, refuses even the right password, lists and unlocks it", async () => {
    for (let i = 0; i < 5; i++) expect(await login("alice", "wrong")).toEqual(WRONG);
    expect(await login("alice", "right")).toEqual(LOCKED);
    expect(await login("ALICE", "right")).toEqual(LOCKED);
    expect((await h.call("GET", "sys/locked-users", undefined, h.root)).body.data).toEqual({
      total: 1,
      by_namespace: [
        { namespace_id: "root", namespace_path: "", counts: 1, mount_accessors: [{ mount_accessor: accessor, counts: 1, alias_identifiers: ["alice"] }] },
      ],
    });
    expect((await h.call("POST", `sys/locked-users/${accessor}/unlock/alice`, {}, h.root)).status).toBe(204);
    expect((await login("alice", "right")).status).toBe(200);
    expect((await h.call("GET", "sys/locked-users", undefined, h.root)).body.data).toEqual({ total: 0, by_namespace: [] });
  });

  it("refuses a locked-out login without deriving the password hash", async () => {
    for (let i = 0; i < 5; i++) await login("alice", "wrong");
    const started = Date.now();
    const refused = await Promise.all(Array.from({ length: 40 }, () => login("alice", "wrong")));
    expect(refused).toEqual(Array(40).fill(LOCKED));
    // Forty derivations, two at a time, would take seconds.
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("a burst of concurrent guesses gets no more than the threshold of tries", async () => {
    const burst = await Promise.all(Array.from({ length: 12 }, () => login("alice", "wrong")));
    expect(burst.filter((r) => r.status === 400 && r.body.errors[0] === WRONG.body.errors[0])).toHaveLength(5);
    expect(burst.filter((r) => r.body.errors[0] === "permission denied")).toHaveLength(7);
    expect(await login("alice", "right")).toEqual(LOCKED);
  });

  it("ends after the lockout duration; failures spread wider than the counter reset never lock", async () => {
    for (let i = 0; i < 5; i++) await login("alice", "wrong");
    h.advance(15 * 60 - 1);
    expect(await login("alice", "right")).toEqual(LOCKED);
    h.advance(2);
    expect((await login("alice", "right")).status).toBe(200);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) await login("alice", "wrong");
      h.advance(15 * 60 + 1);
    }
    expect((await login("alice", "right")).status).toBe(200);
  });

  it("a success clears the count", async () => {
    for (let i = 0; i < 4; i++) await login("alice", "wrong");
    expect((await login("alice", "right")).status).toBe(200);
    for (let i = 0; i < 4; i++) await login("alice", "wrong");
    expect((await login("alice", "right")).status).toBe(200);
  });

  it("locks out names that do not exist the same way, so a lockout does not reveal users", async () => {
    for (let i = 0; i < 5; i++) expect(await login("nobody", "wrong")).toEqual(WRONG);
    expect(await login("nobody", "wrong")).toEqual(LOCKED);
  });

  it("is tuned per mount with user_lockout_config, and can be disabled", async () => {
    const tune = (config: unknown) => h.call("POST", "sys/auth/userpass/tune", { user_lockout_config: config }, h.root);
    expect((await tune({ lockout_threshold: "2", lockout_duration: "1m", lockout_counter_reset_duration: "30s" })).status).toBe(204);
    expect((await h.call("GET", "sys/auth/userpass/tune", undefined, h.root)).body.data.user_lockout_config).toEqual({
      user_lockout_threshold: 2,
      user_lockout_duration: 60,
      user_lockout_counter_reset_duration: 30,
      user_lockout_disable: false,
    });
    for (let i = 0; i < 2; i++) await login("alice", "wrong");
    expect(await login("alice", "right")).toEqual(LOCKED);
    h.advance(61);
    expect((await tune({ lockout_disable: true })).status).toBe(204);
    for (let i = 0; i < 3; i++) expect(await login("alice", "wrong")).toEqual(WRONG);
    expect((await login("alice", "right")).status).toBe(200);

    expect(await tune({ lockout_duration: "soon" })).toEqual({
      status: 400,
      body: { errors: [`invalid duration for "user_lockout_config.lockout_duration": "soon"`] },
    });
    expect((await tune("5")).status).toBe(400);
    const onToken = await h.call("POST", "sys/auth/token/tune", { user_lockout_config: { lockout_threshold: 3 } }, h.root);
    expect(onToken).toEqual({ status: 400, body: { errors: [`user lockout is supported by userpass and approle auth methods, not "token"`] } });
  });

  it("sys/locked-users goes through the ACL", async () => {
    const nobody = await h.tokenWith(["nothing"]);
    expect(await h.call("GET", "sys/locked-users", undefined, nobody)).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect(await h.call("POST", `sys/locked-users/${accessor}/unlock/alice`, {}, nobody)).toEqual({ status: 403, body: PERMISSION_DENIED });
    await h.writePolicy(
      "lockout-admin",
      `
      path "sys/locked-users" { capabilities = ["read"] }
      path "sys/locked-users/+/unlock/*" { capabilities = ["update"] }
    `,
    );
    const admin = await h.tokenWith(["lockout-admin"]);
    expect((await h.call("GET", "sys/locked-users", undefined, admin)).status).toBe(200);
    expect((await h.call("POST", `sys/locked-users/${accessor}/unlock/alice`, {}, admin)).status).toBe(204);
  });
});

describe("approle lockout", () => {
  it("locks a role ID out after 5 wrong secret IDs; its right secret ID is refused until unlocked", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/auth/approle", { type: "approle" }, h.root);
    await h.call("PUT", "auth/approle/role/ci", { token_policies: "ci" }, h.root);
    const roleId = (await h.call("GET", "auth/approle/role/ci/role-id", undefined, h.root)).body.data.role_id;
    const secretId = (await h.call("POST", "auth/approle/role/ci/secret-id", {}, h.root)).body.data.secret_id;
    const login = (secret: string) => h.call("PUT", "auth/approle/login", { role_id: roleId, secret_id: secret });
    for (let i = 0; i < 5; i++) expect((await login("wrong")).body.errors).toEqual(["invalid role or secret ID"]);
    expect(await login(secretId)).toEqual(LOCKED);
    const accessor = (await h.call("GET", "sys/auth", undefined, h.root)).body.data["approle/"].accessor;
    expect((await h.call("GET", "sys/locked-users", undefined, h.root)).body.data.by_namespace[0].mount_accessors[0]).toEqual({
      mount_accessor: accessor,
      counts: 1,
      alias_identifiers: [roleId],
    });
    await h.call("POST", `sys/locked-users/${accessor}/unlock/${roleId}`, {}, h.root);
    expect((await login(secretId)).status).toBe(200);
    // Unknown role IDs are not tracked: nothing to lock, and nothing for a flood of them to fill.
    for (let i = 0; i < 6; i++) expect((await h.call("PUT", "auth/approle/login", { role_id: `guess-${i % 2}`, secret_id: "x" })).status).toBe(400);
    expect((await h.call("GET", "sys/locked-users", undefined, h.root)).body.data.total).toBe(0);
  });
});
