import { describe, expect, it } from "vitest";
import { IdentityStore } from "../../src/logical/identity/store.js";
import { InmemBackend } from "../../src/physical/inmem.js";

const MOUNTS: Record<string, { type: string; path: string }> = { auth_jwt_1: { type: "jwt", path: "jwt/" } };

function storeOver(storage = new InmemBackend()) {
  return { storage, store: new IdentityStore(storage, (accessor) => MOUNTS[accessor] ?? null) };
}

describe("IdentityStore", () => {
  it("makes a login's group claims its membership of the external groups aliased on that mount", async () => {
    const { storage, store } = storeOver();
    const external = await store.write(async () => {
      const group = { ...store.newGroup(0, "external", "devs"), policies: ["dev"] };
      group.alias = { id: "alias-1", canonical_id: group.id, mount_accessor: "auth_jwt_1", name: "developers", creation_time: 0, last_update_time: 0 };
      await store.putGroup(group);
      return group;
    });
    const parent = await store.write(async () => {
      const group = { ...store.newGroup(0, "internal", "everyone"), policies: ["all"], member_group_ids: [external.id] };
      await store.putGroup(group);
      return group;
    });

    const entity = await store.forLogin(1, "auth_jwt_1", { name: "sub-123", metadata: { role: "r" } }, ["developers", "unknown-group"]);
    expect((await store.view(entity.id))?.policies).toEqual(["all", "dev"]);
    expect(store.group(external.id)?.member_entity_ids).toEqual([entity.id]);

    // The same alias finds the same entity; a login without the claim leaves the group at once.
    const again = await store.forLogin(2, "auth_jwt_1", { name: "sub-123", metadata: { role: "r" } }, []);
    expect(again.id).toBe(entity.id);
    expect(store.group(external.id)?.member_entity_ids).toEqual([]);
    expect((await store.view(entity.id))?.policies).toEqual([]);
    expect(store.group(parent.id)?.member_group_ids).toEqual([external.id]);

    // What was written is what a fresh store (another node, after a failover) reads.
    const reopened = storeOver(storage).store;
    await reopened.load();
    expect(reopened.entity(entity.id)?.aliases.map((alias) => [alias.name, alias.metadata])).toEqual([["sub-123", { role: "r" }]]);
    expect(reopened.groupByName("devs")?.alias?.name).toBe("developers");
  });

  it("memoises an entity's view until the next identity write", async () => {
    const { store } = storeOver();
    const entity = await store.forLogin(1, "auth_jwt_1", { name: "a" });
    const first = await store.view(entity.id);
    expect(await store.view(entity.id)).toBe(first);
    // A login that finds its entity unchanged writes nothing and keeps the view.
    await store.forLogin(2, "auth_jwt_1", { name: "a" });
    expect(await store.view(entity.id)).toBe(first);
    await store.write(async () => store.putEntity({ ...entity, policies: ["p"] }));
    const second = await store.view(entity.id);
    expect(second).not.toBe(first);
    expect(second?.policies).toEqual(["p"]);
    expect(second?.cacheKey).not.toBe(first?.cacheKey);
  });
});
