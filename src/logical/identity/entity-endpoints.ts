/** `identity/entity*`, `identity/entity-alias*` and `identity/lookup/entity`, as Vault serves them. */
import type { Endpoint } from "../../sdk/framework.js";
import { parseFlag } from "../../sdk/fields.js";
import { listResponse } from "../../sdk/responses.js";
import { type HandlerResult, LogicalError } from "../../sdk/types.js";
import { aliasTarget, type IdentityRequest, lookUp, metadataField, policiesField, stringField, stringListField, time } from "./fields.js";
import { type Entity, type EntityAlias, type IdentityStore, newEntityAlias } from "./store.js";

type IdentityEndpoint = Endpoint<IdentityRequest>;

export function entityEndpoints(store: IdentityStore): IdentityEndpoint[] {
  const read = async (entity: Entity | null): Promise<HandlerResult> => (entity ? { data: describeEntity(store, entity) } : null);
  const loaded = async () => {
    await store.load();
  };
  return [
    { pattern: "entity", operations: { update: (request) => upsertEntity(store, request, stringField(request.data, "id")) } },
    {
      pattern: "entity/name/:name",
      operations: {
        read: async (_request, { name }) => (await loaded(), read(store.entityByName(name!))),
        update: (request, { name }) => upsertEntity(store, { ...request, data: { ...request.data, name } }, "", name),
        delete: (_request, { name }) => store.write(async () => void (await deleteIf(store, store.entityByName(name!)))).then(() => null),
      },
    },
    {
      pattern: "entity/id/:id",
      operations: {
        read: async (_request, { id }) => (await loaded(), read(store.entity(id!))),
        update: (request, { id }) => upsertEntity(store, request, id!),
        delete: (_request, { id }) => store.write(async () => void (await deleteIf(store, store.entity(id!)))).then(() => null),
      },
    },
    { pattern: "entity/id", operations: { list: async () => (await loaded(), listEntities(store, "id")) } },
    { pattern: "entity/name", operations: { list: async () => (await loaded(), listEntities(store, "name")) } },
    {
      pattern: "entity/batch-delete",
      operations: {
        update: async ({ data }) => {
          const ids = stringListField(data, "entity_ids") ?? [];
          if (ids.length === 0) throw new LogicalError(400, "missing entity ids to delete");
          await store.write(async () => {
            for (const id of ids) await deleteIf(store, store.entity(id));
          });
          return null;
        },
      },
    },
    { pattern: "entity/merge", operations: { update: (request) => mergeEntities(store, request) } },
    { pattern: "entity-alias", operations: { update: (request) => upsertAlias(store, request, stringField(request.data, "id")) } },
    {
      pattern: "entity-alias/id/:id",
      operations: {
        read: async (_request, { id }) => {
          await loaded();
          const alias = store.entityAlias(id!);
          return alias ? { data: describeAlias(store, alias) } : null;
        },
        update: (request, { id }) => upsertAlias(store, request, id!),
        delete: (_request, { id }) =>
          store.write(async () => {
            const alias = store.entityAlias(id!);
            const entity = alias && store.entity(alias.canonical_id);
            if (entity) await store.putEntity({ ...entity, aliases: entity.aliases.filter((a) => a.id !== alias!.id) });
            return null;
          }),
      },
    },
    {
      pattern: "entity-alias/id",
      operations: {
        list: async () => {
          await loaded();
          const aliases = store.entities().flatMap((entity) => entity.aliases);
          const info = Object.fromEntries(aliases.map((alias) => [alias.id, aliasSummary(store, alias)]));
          return { data: { keys: aliases.map((alias) => alias.id).sort(), key_info: info } };
        },
      },
    },
    { pattern: "lookup/entity", standby: true, operations: { update: (request) => lookupEntity(store, request) } },
  ];
}

async function upsertEntity(store: IdentityStore, { data, now }: IdentityRequest, id: string, byName?: string): Promise<HandlerResult> {
  const metadata = metadataField(data, "metadata");
  const policies = policiesField(data);
  const disabled = parseFlag("disabled", data.disabled);
  const name = stringField(data, "name");
  return store.write(async () => {
    let entity: Entity | null = id ? store.entity(id) : byName ? store.entityByName(byName) : null;
    if (id && !entity) throw new LogicalError(400, "entity not found from id");
    // Creating by name when the name is taken updates that entity, as Vault does.
    if (!entity && name) entity = store.entityByName(name);
    const existed = entity !== null;
    const current = entity ?? store.newEntity(now, name);
    if (name && name.toLowerCase() !== current.name.toLowerCase()) {
      const holder = store.entityByName(name);
      if (holder && holder.id !== current.id) throw new LogicalError(400, "entity name is already in use");
    }
    const updated: Entity = {
      ...current,
      name: name || current.name,
      ...(metadata !== undefined && { metadata }),
      ...(policies !== undefined && { policies }),
      ...(disabled !== undefined && { disabled }),
      last_update_time: now,
    };
    await store.putEntity(updated);
    if (existed) return null;
    return { data: { id: updated.id, name: updated.name, aliases: null } };
  });
}

async function deleteIf(store: IdentityStore, entity: Entity | null): Promise<void> {
  if (entity) await store.deleteEntity(entity);
}

function listEntities(store: IdentityStore, by: "id" | "name"): HandlerResult {
  const entities = store.entities();
  const info = Object.fromEntries(
    entities.map((entity) => [
      entity.id,
      { name: entity.name, ...(entity.aliases.length > 0 && { aliases: entity.aliases.map((alias) => aliasSummary(store, alias)) }) },
    ]),
  );
  const keys = entities.map((entity) => (by === "id" ? entity.id : entity.name)).sort();
  return by === "id" ? { data: { keys, key_info: info } } : listResponse(keys);
}

/** Merges `from_entity_ids` into `to_entity_id`: aliases, policies and group memberships move; the sources go. */
async function mergeEntities(store: IdentityStore, { data, now }: IdentityRequest): Promise<HandlerResult> {
  const toId = stringField(data, "to_entity_id");
  const fromIds = stringListField(data, "from_entity_ids") ?? [];
  const force = parseFlag("force", data.force) ?? false;
  if (!toId) throw new LogicalError(400, "missing entity id to merge to");
  if (fromIds.length === 0) throw new LogicalError(400, "missing entity ids to merge from");
  return store.write(async () => {
    let target = store.entity(toId);
    if (!target) throw new LogicalError(400, "entity id to merge to is invalid");
    for (const fromId of fromIds) {
      if (fromId === toId) throw new LogicalError(400, "to_entity_id should not be present in from_entity_ids");
      const source = store.entity(fromId);
      if (!source) throw new LogicalError(400, "entity id to merge from is invalid");
      const clash = source.aliases.find((alias) => target!.aliases.some((own) => own.mount_accessor === alias.mount_accessor));
      if (clash && !force) {
        throw new LogicalError(400, `conflicting mount accessors in following alias IDs and entity IDs: ${clash.id} ${fromId}`);
      }
      const moved = source.aliases
        .filter((alias) => !target!.aliases.some((own) => own.mount_accessor === alias.mount_accessor))
        .map((alias) => ({
          ...alias,
          canonical_id: toId,
          merged_from_canonical_ids: [...(alias.merged_from_canonical_ids ?? []), fromId],
          last_update_time: now,
        }));
      target = {
        ...target,
        aliases: [...target.aliases, ...moved],
        policies: [...new Set([...target.policies, ...source.policies])],
        merged_entity_ids: [...(target.merged_entity_ids ?? []), fromId, ...(source.merged_entity_ids ?? [])],
        last_update_time: now,
      };
      for (const group of store.directGroupsOf(fromId)) {
        const members = group.member_entity_ids.filter((id) => id !== fromId);
        if (!members.includes(toId)) members.push(toId);
        await store.putGroup({ ...group, member_entity_ids: members, last_update_time: now, modify_index: group.modify_index + 1 });
      }
      await store.putEntity(target);
      await store.deleteEntity(source);
    }
    return null;
  });
}

async function upsertAlias(store: IdentityStore, { data, now }: IdentityRequest, id: string): Promise<HandlerResult> {
  const canonicalGiven = stringField(data, "canonical_id") || stringField(data, "entity_id");
  const customMetadata = metadataField(data, "custom_metadata");
  return store.write(async () => {
    const existing = id ? store.entityAlias(id) : null;
    if (id && !existing) throw new LogicalError(400, "invalid alias ID provided");
    const { accessor, aliasName } = aliasTarget(data, existing);
    store.requireMount(accessor);
    const holder = store.entityAliasByName(accessor, aliasName);
    if (holder && holder.id !== existing?.id) {
      if (!existing && (!canonicalGiven || canonicalGiven === holder.canonical_id)) {
        // Vault answers a create of an alias that exists with that alias.
        return { data: { id: holder.id, canonical_id: holder.canonical_id } };
      }
      throw new LogicalError(400, "alias with combination of mount accessor and name already exists");
    }
    const canonicalId = canonicalGiven || existing?.canonical_id || "";
    let entity = canonicalId ? store.entity(canonicalId) : store.newEntity(now);
    if (!entity) throw new LogicalError(400, "invalid canonical ID");
    const other = entity.aliases.find((alias) => alias.mount_accessor === accessor && alias.id !== existing?.id);
    if (other) throw new LogicalError(400, `mount accessor ${accessor} has already been used by an alias for this entity`);
    const alias: EntityAlias = existing
      ? { ...existing, name: aliasName, mount_accessor: accessor, canonical_id: entity.id, last_update_time: now }
      : newEntityAlias(entity.id, accessor, aliasName, null, now);
    if (customMetadata !== undefined) alias.custom_metadata = customMetadata;
    if (existing && existing.canonical_id !== entity.id) {
      const previous = store.entity(existing.canonical_id);
      if (previous) await store.putEntity({ ...previous, aliases: previous.aliases.filter((a) => a.id !== existing.id), last_update_time: now });
      entity = store.entity(entity.id) ?? entity;
    }
    await store.putEntity({ ...entity, aliases: [...entity.aliases.filter((a) => a.id !== alias.id), alias], last_update_time: now });
    return { data: { id: alias.id, canonical_id: entity.id } };
  });
}

async function lookupEntity(store: IdentityStore, { data }: IdentityRequest): Promise<HandlerResult> {
  await store.load();
  const entity = lookUp(data, {
    byName: (name) => store.entityByName(name),
    byId: (id) => store.entity(id),
    aliasById: (id) => store.entityAlias(id),
    aliasByName: (accessor, name) => store.entityAliasByName(accessor, name),
  });
  return entity ? { data: describeEntity(store, entity) } : null;
}

export function describeEntity(store: IdentityStore, entity: Entity): Record<string, unknown> {
  const direct = store.directGroupsOf(entity.id).map((group) => group.id);
  const inherited = store.ancestorsOf(store.directGroupsOf(entity.id)).map((group) => group.id);
  return {
    id: entity.id,
    name: entity.name,
    metadata: entity.metadata,
    merged_entity_ids: entity.merged_entity_ids,
    policies: entity.policies,
    disabled: entity.disabled,
    namespace_id: "root",
    creation_time: time(entity.creation_time),
    last_update_time: time(entity.last_update_time),
    aliases: entity.aliases.map((alias) => describeAlias(store, alias)),
    direct_group_ids: direct,
    inherited_group_ids: inherited,
    group_ids: [...direct, ...inherited],
  };
}

export function describeAlias(store: IdentityStore, alias: EntityAlias): Record<string, unknown> {
  const mount = store.mounts(alias.mount_accessor);
  return {
    id: alias.id,
    canonical_id: alias.canonical_id,
    mount_accessor: alias.mount_accessor,
    ...(mount && { mount_type: mount.type, mount_path: `auth/${mount.path}` }),
    metadata: alias.metadata,
    custom_metadata: alias.custom_metadata ?? {},
    name: alias.name,
    merged_from_canonical_ids: alias.merged_from_canonical_ids,
    creation_time: time(alias.creation_time),
    last_update_time: time(alias.last_update_time),
    local: false,
    namespace_id: "root",
  };
}

function aliasSummary(store: IdentityStore, alias: EntityAlias): Record<string, unknown> {
  const mount = store.mounts(alias.mount_accessor);
  return {
    id: alias.id,
    name: alias.name,
    canonical_id: alias.canonical_id,
    mount_accessor: alias.mount_accessor,
    ...(mount && { mount_type: mount.type, mount_path: `auth/${mount.path}` }),
  };
}
