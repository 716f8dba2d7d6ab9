/** `identity/group*`, `identity/group-alias*` and `identity/lookup/group`, as Vault serves them. */
import type { Endpoint } from "../../sdk/framework.js";
import { listResponse } from "../../sdk/responses.js";
import { type HandlerResult, LogicalError } from "../../sdk/types.js";
import { aliasTarget, type IdentityRequest, lookUp, metadataField, policiesField, stringField, stringListField, time } from "./fields.js";
import type { Group, GroupAlias, GroupType, IdentityStore } from "./store.js";
import { randomUuid } from "../../sdk/encoding.js";

type IdentityEndpoint = Endpoint<IdentityRequest>;

export function groupEndpoints(store: IdentityStore): IdentityEndpoint[] {
  const read = async (find: () => Group | null): Promise<HandlerResult> => {
    await store.load();
    const group = find();
    return group ? { data: describeGroup(store, group) } : null;
  };
  const remove = (find: () => Group | null) =>
    store.write(async () => {
      const group = find();
      if (group) await store.deleteGroup(group);
      return null;
    });
  const list = async (by: "id" | "name"): Promise<HandlerResult> => {
    await store.load();
    const groups = store.groups();
    const keys = groups.map((group) => (by === "id" ? group.id : group.name)).sort();
    if (by === "name") return listResponse(keys);
    return { data: { keys, key_info: Object.fromEntries(groups.map((group) => [group.id, { name: group.name }])) } };
  };
  return [
    { pattern: "group", operations: { update: (request) => upsertGroup(store, request, stringField(request.data, "id")) } },
    { pattern: "group/id", operations: { list: () => list("id") } },
    { pattern: "group/name", operations: { list: () => list("name") } },
    {
      pattern: "group/id/:id",
      operations: {
        read: (_request, { id }) => read(() => store.group(id!)),
        update: (request, { id }) => upsertGroup(store, request, id!),
        delete: (_request, { id }) => remove(() => store.group(id!)),
      },
    },
    {
      pattern: "group/name/:name",
      operations: {
        read: (_request, { name }) => read(() => store.groupByName(name!)),
        update: (request, { name }) => upsertGroup(store, { ...request, data: { ...request.data, name } }, "", name),
        delete: (_request, { name }) => remove(() => store.groupByName(name!)),
      },
    },
    { pattern: "group-alias", operations: { update: (request) => upsertGroupAlias(store, request, stringField(request.data, "id")) } },
    {
      pattern: "group-alias/id",
      operations: {
        list: async () => {
          await store.load();
          const aliases = store.groups().flatMap((group) => (group.alias ? [group.alias] : []));
          const info = Object.fromEntries(aliases.map((alias) => [alias.id, describeGroupAlias(store, alias)]));
          return { data: { keys: aliases.map((alias) => alias.id).sort(), key_info: info } };
        },
      },
    },
    {
      pattern: "group-alias/id/:id",
      operations: {
        read: async (_request, { id }) => {
          await store.load();
          const alias = store.groupAlias(id!);
          return alias ? { data: describeGroupAlias(store, alias) } : null;
        },
        update: (request, { id }) => upsertGroupAlias(store, request, id!),
        delete: (_request, { id }) =>
          store.write(async () => {
            const alias = store.groupAlias(id!);
            const group = alias && store.group(alias.canonical_id);
            if (group) await store.putGroup({ ...group, alias: null });
            return null;
          }),
      },
    },
    { pattern: "lookup/group", standby: true, operations: { update: (request) => lookupGroup(store, request) } },
  ];
}

function groupType(data: Record<string, unknown>): GroupType | undefined {
  const type = stringField(data, "type").toLowerCase();
  if (type === "") return undefined;
  if (type !== "internal" && type !== "external") throw new LogicalError(400, `invalid group type "${type}"`);
  return type;
}

async function upsertGroup(store: IdentityStore, { data, now }: IdentityRequest, id: string, byName?: string): Promise<HandlerResult> {
  const type = groupType(data);
  const name = stringField(data, "name");
  const metadata = metadataField(data, "metadata");
  const policies = policiesField(data);
  const memberEntities = stringListField(data, "member_entity_ids");
  const memberGroups = stringListField(data, "member_group_ids");
  return store.write(async () => {
    let group = id ? store.group(id) : byName ? store.groupByName(byName) : null;
    if (id && !group) throw new LogicalError(400, "group not found from id");
    if (!group && name) group = store.groupByName(name);
    const existed = group !== null;
    const current = group ?? store.newGroup(now, type ?? "internal", name);
    if (type && type !== current.type) throw new LogicalError(400, "group type cannot be changed");
    if (name && name.toLowerCase() !== current.name.toLowerCase()) {
      const holder = store.groupByName(name);
      if (holder && holder.id !== current.id) throw new LogicalError(400, "group name is already in use");
    }
    if (memberEntities !== undefined) {
      if (current.type === "external" && memberEntities.length > 0) throw new LogicalError(400, "member entities can't be set manually for external groups");
      for (const member of memberEntities) if (!store.entity(member)) throw new LogicalError(400, `invalid member entity ID "${member}"`);
    }
    if (memberGroups !== undefined) {
      if (current.type === "external" && memberGroups.length > 0) throw new LogicalError(400, "member groups can't be set for external groups");
      for (const member of memberGroups) refuseCycle(store, current.id, member);
    }
    const updated: Group = {
      ...current,
      name: name || current.name,
      ...(metadata !== undefined && { metadata }),
      ...(policies !== undefined && { policies }),
      ...(memberEntities !== undefined && { member_entity_ids: memberEntities }),
      ...(memberGroups !== undefined && { member_group_ids: memberGroups }),
      last_update_time: now,
      modify_index: current.modify_index + (existed ? 1 : 0),
    };
    await store.putGroup(updated);
    if (existed) return null;
    return { data: { id: updated.id, name: updated.name } };
  });
}

/** 400 when making `memberId` a member of `groupId` would make a group its own member (directly or not). */
function refuseCycle(store: IdentityStore, groupId: string, memberId: string): void {
  const member = store.group(memberId);
  if (!member) throw new LogicalError(400, `invalid member group ID "${memberId}"`);
  const cycle = () => new LogicalError(400, `cyclic relationship detected for member group ID "${memberId}"`);
  if (memberId === groupId) throw cycle();
  // A cycle appears when `groupId` is already below `memberId`: walk the member's descendants.
  const seen = new Set<string>();
  const stack = [...member.member_group_ids];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (next === groupId) throw cycle();
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(store.group(next)?.member_group_ids ?? []));
  }
}

async function upsertGroupAlias(store: IdentityStore, { data, now }: IdentityRequest, id: string): Promise<HandlerResult> {
  const canonicalGiven = stringField(data, "canonical_id");
  return store.write(async () => {
    const existing = id ? store.groupAlias(id) : null;
    if (id && !existing) throw new LogicalError(400, "invalid group alias ID");
    const { accessor, aliasName } = aliasTarget(data, existing);
    store.requireMount(accessor);
    const holder = store.groupAliasByName(accessor, aliasName);
    if (holder && holder.id !== existing?.id) throw new LogicalError(400, "combination of mount accessor and alias name is already in use");
    const canonicalId = canonicalGiven || existing?.canonical_id || "";
    // Without a group to attach to, Vault makes a new external group for the alias.
    const group = canonicalId ? store.group(canonicalId) : store.newGroup(now, "external");
    if (!group) throw new LogicalError(400, "invalid group ID given in 'canonical_id'");
    if (group.type !== "external") throw new LogicalError(400, "alias can't be set on an internal group");
    if (group.alias && group.alias.id !== existing?.id) throw new LogicalError(400, "group already has an alias");
    const alias: GroupAlias = existing
      ? { ...existing, name: aliasName, mount_accessor: accessor, canonical_id: group.id, last_update_time: now }
      : { id: randomUuid(), canonical_id: group.id, mount_accessor: accessor, name: aliasName, creation_time: now, last_update_time: now };
    if (existing && existing.canonical_id !== group.id) {
      const previous = store.group(existing.canonical_id);
      if (previous) await store.putGroup({ ...previous, alias: null });
    }
    await store.putGroup({ ...group, alias, last_update_time: now });
    return { data: { id: alias.id, canonical_id: group.id } };
  });
}

async function lookupGroup(store: IdentityStore, { data }: IdentityRequest): Promise<HandlerResult> {
  await store.load();
  const group = lookUp(data, {
    byName: (name) => store.groupByName(name),
    byId: (id) => store.group(id),
    aliasById: (id) => store.groupAlias(id),
    aliasByName: (accessor, name) => store.groupAliasByName(accessor, name),
  });
  return group ? { data: describeGroup(store, group) } : null;
}

export function describeGroup(store: IdentityStore, group: Group): Record<string, unknown> {
  return {
    id: group.id,
    name: group.name,
    type: group.type,
    policies: group.policies,
    metadata: group.metadata,
    member_entity_ids: group.member_entity_ids,
    member_group_ids: group.member_group_ids.length > 0 ? group.member_group_ids : null,
    parent_group_ids: store.parentGroupsOf(group.id).map((parent) => parent.id),
    alias: group.alias ? describeGroupAlias(store, group.alias) : {},
    creation_time: time(group.creation_time),
    last_update_time: time(group.last_update_time),
    modify_index: group.modify_index,
    namespace_id: "root",
  };
}

function describeGroupAlias(store: IdentityStore, alias: GroupAlias): Record<string, unknown> {
  const mount = store.mounts(alias.mount_accessor);
  return {
    id: alias.id,
    canonical_id: alias.canonical_id,
    mount_accessor: alias.mount_accessor,
    ...(mount && { mount_type: mount.type, mount_path: `auth/${mount.path}` }),
    name: alias.name,
    metadata: null,
    creation_time: time(alias.creation_time),
    last_update_time: time(alias.last_update_time),
    merged_from_canonical_ids: null,
    namespace_id: "root",
  };
}
