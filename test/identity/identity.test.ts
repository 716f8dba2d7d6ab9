import { beforeEach, describe, expect, it } from "vitest";
import { type InProcessServer, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

describe("identity/ entities, aliases and groups", () => {
  let server: InProcessServer;
  let accessor: string;
  beforeEach(async () => {
    server = await unsealedServer();
    await server.call("POST", "sys/auth/userpass", { type: "userpass" }, server.root);
    accessor = (await server.call("GET", "sys/auth", undefined, server.root)).body.data["userpass/"].accessor;
  });

  it("is mounted by default and cannot be disabled", async () => {
    const mounts = await server.call("GET", "sys/mounts", undefined, server.root);
    expect(mounts.body.data["identity/"]).toMatchObject({ type: "identity", local: false });
    const disabled = await server.call("DELETE", "sys/mounts/identity", undefined, server.root);
    expect(disabled.status).toBe(400);
    const enabled = await server.call("POST", "sys/mounts/identity", { type: "kv" }, server.root);
    expect(enabled.status).toBe(400);
  });

  it("creates, reads, updates, lists and deletes entities by id and by name", async () => {
    const created = await server.call("POST", "identity/entity", { name: "alice", metadata: { team: "blue" }, policies: ["Reader"] }, server.root);
    expect(created.status).toBe(200);
    const id = created.body.data.id;
    expect(created.body.data).toEqual({ id, name: "alice", aliases: null });

    const read = await server.call("GET", `identity/entity/id/${id}`, undefined, server.root);
    expect(read.body.data).toMatchObject({ id, name: "alice", metadata: { team: "blue" }, policies: ["reader"], disabled: false, aliases: [], group_ids: [] });
    expect(read.body.data.creation_time).toMatch(/^\d{4}-\d\d-\d\dT/);

    // An update of an existing entity answers 204, as Vault does.
    expect((await server.call("POST", `identity/entity/id/${id}`, { metadata: { team: "red" } }, server.root)).status).toBe(204);
    expect((await server.call("POST", "identity/entity/name/alice", { disabled: true }, server.root)).status).toBe(204);
    const byName = await server.call("GET", "identity/entity/name/alice", undefined, server.root);
    expect(byName.body.data).toMatchObject({ id, metadata: { team: "red" }, disabled: true });

    const second = (await server.call("POST", "identity/entity/name/bob", {}, server.root)).body.data.id;
    expect((await server.call("LIST", "identity/entity/id", undefined, server.root)).body.data.keys).toEqual([id, second].sort());
    expect((await server.call("GET", "identity/entity/name?list=true", undefined, server.root)).body.data.keys).toEqual(["alice", "bob"]);

    expect((await server.call("DELETE", "identity/entity/name/alice", undefined, server.root)).status).toBe(204);
    expect((await server.call("GET", `identity/entity/id/${id}`, undefined, server.root)).status).toBe(204);
    expect((await server.call("POST", "identity/entity/batch-delete", { entity_ids: [second] }, server.root)).status).toBe(204);
    expect((await server.call("LIST", "identity/entity/id", undefined, server.root)).status).toBe(404);
  });

  it("refuses bad input with 400s, never a 500", async () => {
    const cases: [string, unknown][] = [
      ["identity/entity", { metadata: "not a map" }],
      ["identity/entity", { policies: 42 }],
      ["identity/entity", { disabled: "perhaps" }],
      ["identity/entity/id/no-such-id", { name: "x" }],
      ["identity/entity-alias", { name: "x", mount_accessor: "not a valid accessor" }],
      ["identity/group", { type: "cosmic" }],
      ["identity/group", { member_entity_ids: ["nobody"] }],
      ["identity/entity/merge", { to_entity_id: "nobody", from_entity_ids: ["x"] }],
      ["identity/lookup/entity", { name: "a", id: "b" }],
      ["identity/oidc/key/k", { algorithm: "HS256" }],
      ["identity/oidc/role/r", { key: "missing" }],
    ];
    for (const [path, body] of cases) {
      const answer = await server.call("POST", path, body, server.root);
      expect({ path, status: answer.status }).toEqual({ path, status: 400 });
      expect(answer.body.errors).toHaveLength(1);
    }
    const badAccessor = await server.call("POST", "identity/entity-alias", { name: "x", mount_accessor: "not a valid accessor" }, server.root);
    expect(badAccessor.body.errors[0]).toContain("invalid mount accessor");
  });

  it("keeps aliases on their entity, looks entities up, and merges them", async () => {
    const alice = (await server.call("POST", "identity/entity", { name: "alice", policies: ["a"] }, server.root)).body.data.id;
    const bob = (await server.call("POST", "identity/entity", { name: "bob", policies: ["b"] }, server.root)).body.data.id;
    const alias = await server.call(
      "POST",
      "identity/entity-alias",
      { name: "bob", canonical_id: bob, mount_accessor: accessor, custom_metadata: { k: "v" } },
      server.root,
    );
    expect(alias.body.data).toEqual({ id: expect.any(String), canonical_id: bob });
    const aliasRead = await server.call("GET", `identity/entity-alias/id/${alias.body.data.id}`, undefined, server.root);
    expect(aliasRead.body.data).toMatchObject({
      name: "bob",
      mount_accessor: accessor,
      mount_type: "userpass",
      mount_path: "auth/userpass/",
      custom_metadata: { k: "v" },
    });

    const found = await server.call("POST", "identity/lookup/entity", { alias_name: "bob", alias_mount_accessor: accessor }, server.root);
    expect(found.body.data.id).toBe(bob);
    expect((await server.call("POST", "identity/lookup/entity", { id: "nobody" }, server.root)).status).toBe(204);

    expect((await server.call("POST", "identity/entity/merge", { to_entity_id: alice, from_entity_ids: [bob] }, server.root)).status).toBe(204);
    const merged = (await server.call("GET", `identity/entity/id/${alice}`, undefined, server.root)).body.data;
    expect(merged).toMatchObject({ policies: ["a", "b"], merged_entity_ids: [bob] });
    expect(merged.aliases.map((a: { name: string; canonical_id: string }) => [a.name, a.canonical_id])).toEqual([["bob", alice]]);
    expect((await server.call("GET", `identity/entity/id/${bob}`, undefined, server.root)).status).toBe(204);
    const afterMerge = await server.call("POST", "identity/lookup/entity", { alias_name: "bob", alias_mount_accessor: accessor }, server.root);
    expect(afterMerge.body.data.id).toBe(alice);

    // Deleting an entity deletes its aliases.
    await server.call("DELETE", `identity/entity/id/${alice}`, undefined, server.root);
    expect((await server.call("LIST", "identity/entity-alias/id", undefined, server.root)).status).toBe(404);
  });

  it("keeps groups with member entities and member groups, refusing cycles", async () => {
    const entity = (await server.call("POST", "identity/entity", { name: "alice" }, server.root)).body.data.id;
    const inner = (await server.call("POST", "identity/group", { name: "inner", member_entity_ids: [entity], policies: ["p1"] }, server.root)).body.data.id;
    const outer = (await server.call("POST", "identity/group", { name: "outer", member_group_ids: [inner], policies: ["p2"] }, server.root)).body.data.id;
    const cycle = await server.call("POST", `identity/group/id/${inner}`, { member_group_ids: [outer] }, server.root);
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors[0]).toContain("cyclic relationship");
    expect((await server.call("POST", `identity/group/id/${inner}`, { member_group_ids: [inner] }, server.root)).status).toBe(400);

    const read = (await server.call("GET", `identity/group/id/${inner}`, undefined, server.root)).body.data;
    expect(read).toMatchObject({
      name: "inner",
      type: "internal",
      member_entity_ids: [entity],
      member_group_ids: null,
      parent_group_ids: [outer],
      policies: ["p1"],
    });
    const entityRead = (await server.call("GET", `identity/entity/id/${entity}`, undefined, server.root)).body.data;
    expect(entityRead).toMatchObject({ direct_group_ids: [inner], inherited_group_ids: [outer], group_ids: [inner, outer] });

    expect((await server.call("POST", "identity/group", { name: "ext", type: "external", member_entity_ids: [entity] }, server.root)).status).toBe(400);
    const external = (await server.call("POST", "identity/group/name/ext", { type: "external" }, server.root)).body.data.id;
    expect((await server.call("POST", `identity/group/id/${external}`, { type: "internal" }, server.root)).body.errors).toEqual([
      "group type cannot be changed",
    ]);
    const groupAlias = await server.call("POST", "identity/group-alias", { name: "devs", mount_accessor: accessor, canonical_id: external }, server.root);
    expect(groupAlias.body.data).toEqual({ id: expect.any(String), canonical_id: external });
    const internalAlias = await server.call("POST", "identity/group-alias", { name: "ops", mount_accessor: accessor, canonical_id: inner }, server.root);
    expect(internalAlias.status).toBe(400);
    const lookup = await server.call("POST", "identity/lookup/group", { alias_name: "devs", alias_mount_accessor: accessor }, server.root);
    expect(lookup.body.data).toMatchObject({ id: external, alias: { name: "devs" } });
    expect((await server.call("GET", "identity/group/name?list=true", undefined, server.root)).body.data.keys).toEqual(["ext", "inner", "outer"]);

    expect((await server.call("DELETE", `identity/group/id/${inner}`, undefined, server.root)).status).toBe(204);
    expect((await server.call("GET", `identity/group/id/${outer}`, undefined, server.root)).body.data.member_group_ids).toBeNull();
  });
});

describe("logins, identity policies and templated ACLs", () => {
  let server: InProcessServer;
  beforeEach(async () => {
    server = await unsealedServer();
    await server.call("POST", "sys/auth/userpass", { type: "userpass" }, server.root);
    await server.call("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, server.root);
    for (const user of ["alice", "bob"]) await server.call("POST", `auth/userpass/users/${user}`, { password: "pw" }, server.root);
  });
  const login = async (user: string) => (await server.call("POST", `auth/userpass/login/${user}`, { password: "pw" })).body.auth;

  it("gives each login the entity of its alias, creating it the first time", async () => {
    const first = await login("alice");
    expect(first.entity_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await login("alice")).entity_id).toBe(first.entity_id);
    expect((await login("bob")).entity_id).not.toBe(first.entity_id);
    const entity = (await server.call("GET", `identity/entity/id/${first.entity_id}`, undefined, server.root)).body.data;
    expect(entity.aliases).toMatchObject([{ name: "alice", mount_type: "userpass" }]);
    const self = await server.call("GET", "auth/token/lookup-self", undefined, first.client_token);
    expect(self.body.data.entity_id).toBe(first.entity_id);
  });

  it("lets a group's templated policy give each member their own path, and takes it back at once", async () => {
    await server.writePolicy(
      "own-path",
      `path "secret/data/users/{{identity.entity.name}}/*" { capabilities = ["create", "read", "update"] }
path "secret/data/by-id/{{identity.entity.id}}" { capabilities = ["read"] }
path "secret/data/team/{{identity.entity.metadata.team}}" { capabilities = ["read"] }`,
    );
    const alice = await login("alice");
    const bob = await login("bob");
    // Name the entities after their users, so the template reads a stable name.
    await server.call("POST", `identity/entity/id/${alice.entity_id}`, { name: "alice" }, server.root);
    await server.call("POST", `identity/entity/id/${bob.entity_id}`, { name: "bob" }, server.root);
    for (const user of ["alice", "bob"]) await server.call("POST", `secret/data/users/${user}/note`, { data: { owner: user } }, server.root);

    const denied = await server.call("GET", "secret/data/users/alice/note", undefined, alice.client_token);
    expect(denied.status).toBe(403);
    const group = (
      await server.call("POST", "identity/group", { name: "staff", policies: ["own-path"], member_entity_ids: [alice.entity_id, bob.entity_id] }, server.root)
    ).body.data.id;

    const own = await server.call("GET", "secret/data/users/alice/note", undefined, alice.client_token);
    expect(own.status).toBe(200);
    expect(own.body.data.data).toEqual({ owner: "alice" });
    expect((await server.call("GET", "secret/data/users/bob/note", undefined, alice.client_token)).status).toBe(403);
    expect((await server.call("GET", "secret/data/users/bob/note", undefined, bob.client_token)).status).toBe(200);
    expect((await server.call("GET", "secret/data/users/alice/note", undefined, bob.client_token)).status).toBe(403);
    // The capabilities a token reports include its entity's.
    const caps = await server.call("POST", "sys/capabilities-self", { path: "secret/data/users/alice/x" }, alice.client_token);
    expect(caps.body.data.capabilities).toEqual(["create", "read", "update"]);

    // Unresolvable template (no "team" metadata): the path matches nothing; with the metadata it does.
    await server.call("POST", "secret/data/team/blue", { data: { ok: "1" } }, server.root);
    expect((await server.call("GET", "secret/data/team/blue", undefined, alice.client_token)).status).toBe(403);
    await server.call("POST", `identity/entity/id/${alice.entity_id}`, { metadata: { team: "blue" } }, server.root);
    expect((await server.call("GET", "secret/data/team/blue", undefined, alice.client_token)).status).toBe(200);

    await server.call("POST", `identity/group/id/${group}`, { member_entity_ids: [bob.entity_id] }, server.root);
    const removed = await server.call("GET", "secret/data/users/alice/note", undefined, alice.client_token);
    expect(removed).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await server.call("GET", "secret/data/users/bob/note", undefined, bob.client_token)).status).toBe(200);
  });

  it("adds policies of nested groups, and refuses every token of a disabled entity", async () => {
    await server.writePolicy(
      "reader",
      `path "secret/data/shared" { capabilities = ["read"] }
path "auth/token/create" { capabilities = ["update"] }`,
    );
    await server.call("POST", "secret/data/shared", { data: { v: "1" } }, server.root);
    const alice = await login("alice");
    const inner = (await server.call("POST", "identity/group", { name: "inner", member_entity_ids: [alice.entity_id] }, server.root)).body.data.id;
    await server.call("POST", "identity/group", { name: "outer", member_group_ids: [inner], policies: ["reader"] }, server.root);
    expect((await server.call("GET", "secret/data/shared", undefined, alice.client_token)).status).toBe(200);
    const self = (await server.call("GET", "auth/token/lookup-self", undefined, alice.client_token)).body.data;
    expect(self).toMatchObject({ entity_id: alice.entity_id, policies: ["default"], identity_policies: ["reader"] });
    const child = (await server.call("POST", "auth/token/create", { policies: ["default"] }, alice.client_token)).body.auth;
    expect(child.entity_id).toBe(alice.entity_id);
    expect((await server.call("GET", "secret/data/shared", undefined, child.client_token)).status).toBe(200);

    await server.call("POST", `identity/entity/id/${alice.entity_id}`, { disabled: true }, server.root);
    expect(await server.call("GET", "auth/token/lookup-self", undefined, alice.client_token)).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await server.call("GET", "secret/data/shared", undefined, child.client_token)).status).toBe(403);
    expect((await server.call("POST", "auth/userpass/login/alice", { password: "pw" })).status).toBe(403);
    await server.call("POST", `identity/entity/id/${alice.entity_id}`, { disabled: false }, server.root);
    expect((await server.call("GET", "secret/data/shared", undefined, alice.client_token)).status).toBe(200);
  });

  it("refuses a policy naming an unknown template key", async () => {
    const written = await server.call("PUT", "sys/policies/acl/bad", { policy: `path "a/{{identity.entity.nope}}" { capabilities = ["read"] }` }, server.root);
    expect(written.status).toBe(400);
    expect(written.body.errors[0]).toContain("unknown or unsupported template key");
  });
});

describe("identity/ under hostile input", () => {
  it("answers every field of every write with a value of the wrong kind by a 4xx or success, never a 500", async () => {
    const server = await unsealedServer();
    await server.call("POST", "sys/auth/userpass", { type: "userpass" }, server.root);
    const entity = (await server.call("POST", "identity/entity", { name: "target" }, server.root)).body.data.id;
    const group = (await server.call("POST", "identity/group", { name: "target" }, server.root)).body.data.id;
    await server.call("POST", "identity/oidc/key/k", {}, server.root);
    const writes: Record<string, string[]> = {
      "identity/entity": ["name", "id", "metadata", "policies", "disabled"],
      [`identity/entity/id/${entity}`]: ["name", "metadata", "policies", "disabled"],
      "identity/entity/batch-delete": ["entity_ids"],
      "identity/entity/merge": ["from_entity_ids", "to_entity_id", "force"],
      "identity/entity-alias": ["name", "mount_accessor", "canonical_id", "custom_metadata", "id"],
      "identity/group": ["name", "type", "metadata", "policies", "member_entity_ids", "member_group_ids"],
      [`identity/group/id/${group}`]: ["name", "type", "metadata", "policies", "member_entity_ids", "member_group_ids"],
      "identity/group-alias": ["name", "mount_accessor", "canonical_id", "id"],
      "identity/lookup/entity": ["name", "id", "alias_id", "alias_name", "alias_mount_accessor"],
      "identity/lookup/group": ["name", "id", "alias_id", "alias_name", "alias_mount_accessor"],
      "identity/oidc/config": ["issuer"],
      "identity/oidc/key/k": ["algorithm", "rotation_period", "verification_ttl", "allowed_client_ids"],
      "identity/oidc/role/r": ["key", "ttl", "template"],
      "identity/oidc/introspect": ["token", "client_id"],
    };
    const junk: unknown[] = [null, 7, -1, true, [], {}, [1, { a: 2 }], { a: { b: 1 } }, "", "x".repeat(5000), "{{", "a=b,c", "__proto__"];
    for (const [path, fields] of Object.entries(writes)) {
      for (const field of fields) {
        for (const value of junk) {
          const answer = await server.call("POST", path, { [field]: value }, server.root);
          expect({ path, field, value, status: answer.status < 500 }).toEqual({ path, field, value, status: true });
        }
      }
    }
  }, 120_000);
});
