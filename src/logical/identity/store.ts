/**
 * Vault's identity store: entities (with their aliases, one per auth mount) and groups (internal,
 * with member entities and member groups; external, with one alias naming a group an auth method
 * vouches for). Every entity and group is its own entry behind the barrier; the store reads them
 * all into memory on first use (as Vault's memdb) and writes through, so answering which policies
 * a token's entity holds costs no storage read once warm. Writes are serialised: only the active
 * writes (a standby's storage refuses, and its state is rebuilt per write generation).
 */
import { decodeJson, encodeJson, randomUuid } from "../../sdk/encoding.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { LogicalError, type Storage } from "../../sdk/types.js";

export interface EntityAlias {
  id: string;
  canonical_id: string;
  mount_accessor: string;
  name: string;
  metadata: Record<string, string> | null;
  custom_metadata: Record<string, string> | null;
  /** Epoch milliseconds. */
  creation_time: number;
  last_update_time: number;
  merged_from_canonical_ids: string[] | null;
}

export interface Entity {
  id: string;
  name: string;
  metadata: Record<string, string> | null;
  policies: string[];
  disabled: boolean;
  aliases: EntityAlias[];
  merged_entity_ids: string[] | null;
  creation_time: number;
  last_update_time: number;
}

export interface GroupAlias {
  id: string;
  canonical_id: string;
  mount_accessor: string;
  name: string;
  creation_time: number;
  last_update_time: number;
}

export type GroupType = "internal" | "external";

export interface Group {
  id: string;
  name: string;
  type: GroupType;
  policies: string[];
  member_entity_ids: string[];
  member_group_ids: string[];
  metadata: Record<string, string> | null;
  alias: GroupAlias | null;
  creation_time: number;
  last_update_time: number;
  modify_index: number;
}

/** What the core needs of an entity on every request: memoised until the next identity write. */
export interface EntityView {
  entity: Entity;
  /** The entity's own policies and those of every group it is in, directly or through a member group. */
  policies: readonly string[];
  directGroups: Group[];
  inheritedGroups: Group[];
  /** Changes whenever anything the entity's templated policies could read changes. */
  cacheKey: string;
}

/** Finds an auth mount by accessor (aliases name mounts by accessor). */
export type MountLookup = (accessor: string) => { type: string; path: string } | null;

const ENTITY_PREFIX = "entity/";
const GROUP_PREFIX = "group/";

export class IdentityStore {
  #loaded: Promise<void> | null = null;
  readonly #entities = new Map<string, Entity>();
  readonly #groups = new Map<string, Group>();
  /** Entities by lower-cased name, and entity aliases by mount and name: what logins and lookups ask. */
  readonly #entityNames = new Map<string, string>();
  readonly #aliasKeys = new Map<string, EntityAlias>();
  readonly #views = new Map<string, EntityView | null>();
  /** Bumped by every change written: part of each view's cache key. */
  #version = 0;
  /** Whether the current `write` changed anything (a login that finds its entity as it was does not). */
  #changed = false;
  readonly #writes = new KeyedLock();

  constructor(
    readonly storage: Storage,
    readonly mounts: MountLookup,
  ) {}

  /** Runs `change` alone (identity writes read and update several entries together). */
  write<T>(change: () => Promise<T>): Promise<T> {
    return this.#writes.run("identity", async () => {
      await this.load();
      this.#changed = false;
      try {
        return await change();
      } finally {
        if (this.#changed) {
          this.#version++;
          this.#views.clear();
        }
      }
    });
  }

  load(): Promise<void> {
    this.#loaded ??= this.#readAll().catch((error) => {
      this.#loaded = null;
      throw error;
    });
    return this.#loaded;
  }

  async #readAll(): Promise<void> {
    const [entityIds, groupIds] = await Promise.all([this.storage.list(ENTITY_PREFIX), this.storage.list(GROUP_PREFIX)]);
    const read = async <T>(key: string) => {
      const bytes = await this.storage.get(key);
      return bytes ? decodeJson<T>(bytes) : null;
    };
    const [entities, groups] = await Promise.all([
      Promise.all(entityIds.map((id) => read<Entity>(ENTITY_PREFIX + id))),
      Promise.all(groupIds.map((id) => read<Group>(GROUP_PREFIX + id))),
    ]);
    for (const entity of entities) if (entity) this.#index(entity);
    for (const group of groups) if (group) this.#groups.set(group.id, group);
  }

  entities(): Entity[] {
    return [...this.#entities.values()];
  }

  groups(): Group[] {
    return [...this.#groups.values()];
  }

  entity(id: string): Entity | null {
    return this.#entities.get(id) ?? null;
  }

  /** The entity a token names: the entity itself, or the one it was merged into. */
  entityForToken(id: string): Entity | null {
    return this.entity(id) ?? this.entities().find((entity) => entity.merged_entity_ids?.includes(id)) ?? null;
  }

  entityByName(name: string): Entity | null {
    const id = this.#entityNames.get(name.toLowerCase());
    return id === undefined ? null : this.entity(id);
  }

  entityAlias(id: string): EntityAlias | null {
    for (const entity of this.#entities.values()) for (const alias of entity.aliases) if (alias.id === id) return alias;
    return null;
  }

  entityAliasByName(mountAccessor: string, name: string): EntityAlias | null {
    return this.#aliasKeys.get(aliasKey(mountAccessor, name)) ?? null;
  }

  group(id: string): Group | null {
    return this.#groups.get(id) ?? null;
  }

  groupByName(name: string): Group | null {
    const wanted = name.toLowerCase();
    return this.groups().find((group) => group.name.toLowerCase() === wanted) ?? null;
  }

  groupAlias(id: string): GroupAlias | null {
    return this.groups().find((group) => group.alias?.id === id)?.alias ?? null;
  }

  groupAliasByName(mountAccessor: string, name: string): GroupAlias | null {
    return this.groups().find((group) => group.alias?.mount_accessor === mountAccessor && group.alias.name === name)?.alias ?? null;
  }

  /** Groups that list `entityId` as a member. */
  directGroupsOf(entityId: string): Group[] {
    return this.groups().filter((group) => group.member_entity_ids.includes(entityId));
  }

  /** Groups that list `groupId` as a member group. */
  parentGroupsOf(groupId: string): Group[] {
    return this.groups().filter((group) => group.member_group_ids.includes(groupId));
  }

  /** Every group above `groups` (their parents, and theirs), not counting `groups` themselves. */
  ancestorsOf(groups: Group[]): Group[] {
    const seen = new Set(groups.map((group) => group.id));
    const found: Group[] = [];
    const queue = [...groups];
    while (queue.length > 0) {
      for (const parent of this.parentGroupsOf(queue.shift()!.id)) {
        if (seen.has(parent.id)) continue;
        seen.add(parent.id);
        found.push(parent);
        queue.push(parent);
      }
    }
    return found;
  }

  /** What a token's entity adds to a request (policies, groups), or null when the entity is gone. */
  async view(entityId: string): Promise<EntityView | null> {
    await this.load();
    if (this.#views.has(entityId)) return this.#views.get(entityId)!;
    const entity = this.entityForToken(entityId);
    let view: EntityView | null = null;
    if (entity) {
      const directGroups = this.directGroupsOf(entity.id);
      const inheritedGroups = this.ancestorsOf(directGroups);
      const policies = new Set(entity.policies);
      for (const group of [...directGroups, ...inheritedGroups]) for (const policy of group.policies) policies.add(policy);
      view = { entity, policies: Object.freeze([...policies].sort()), directGroups, inheritedGroups, cacheKey: `${entity.id}@${this.#version}` };
    }
    this.#views.set(entityId, view);
    return view;
  }

  async putEntity(entity: Entity): Promise<void> {
    this.#changed = true;
    await this.storage.put(ENTITY_PREFIX + entity.id, encodeJson(entity));
    this.#index(entity);
  }

  /** Puts `entity` in memory and its indexes, replacing what its previous version put there. */
  #index(entity: Entity): void {
    this.#unindex(entity.id);
    this.#entities.set(entity.id, entity);
    this.#entityNames.set(entity.name.toLowerCase(), entity.id);
    for (const alias of entity.aliases) this.#aliasKeys.set(aliasKey(alias.mount_accessor, alias.name), alias);
  }

  #unindex(id: string): void {
    const previous = this.#entities.get(id);
    if (!previous) return;
    if (this.#entityNames.get(previous.name.toLowerCase()) === id) this.#entityNames.delete(previous.name.toLowerCase());
    for (const alias of previous.aliases) {
      // A merged entity's aliases now belong to the entity it was merged into.
      const key = aliasKey(alias.mount_accessor, alias.name);
      if (this.#aliasKeys.get(key)?.canonical_id === id) this.#aliasKeys.delete(key);
    }
    this.#entities.delete(id);
  }

  async deleteEntity(entity: Entity): Promise<void> {
    this.#changed = true;
    // As in Vault: the entity leaves every group it was in, and its aliases go with it.
    for (const group of this.directGroupsOf(entity.id)) {
      await this.putGroup({ ...group, member_entity_ids: group.member_entity_ids.filter((id) => id !== entity.id) });
    }
    await this.storage.delete(ENTITY_PREFIX + entity.id);
    this.#unindex(entity.id);
  }

  async putGroup(group: Group): Promise<void> {
    this.#changed = true;
    await this.storage.put(GROUP_PREFIX + group.id, encodeJson(group));
    this.#groups.set(group.id, group);
  }

  async deleteGroup(group: Group): Promise<void> {
    this.#changed = true;
    for (const parent of this.parentGroupsOf(group.id)) {
      await this.putGroup({ ...parent, member_group_ids: parent.member_group_ids.filter((id) => id !== group.id) });
    }
    await this.storage.delete(GROUP_PREFIX + group.id);
    this.#groups.delete(group.id);
  }

  newEntity(now: number, name?: string): Entity {
    const id = randomUuid();
    return {
      id,
      name: name || `entity_${id.slice(0, 8)}`,
      metadata: null,
      policies: [],
      disabled: false,
      aliases: [],
      merged_entity_ids: null,
      creation_time: now,
      last_update_time: now,
    };
  }

  newGroup(now: number, type: GroupType, name?: string): Group {
    const id = randomUuid();
    return {
      id,
      name: name || `group_${id.slice(0, 8)}`,
      type,
      policies: [],
      member_entity_ids: [],
      member_group_ids: [],
      metadata: null,
      alias: null,
      creation_time: now,
      last_update_time: now,
      modify_index: 0,
    };
  }

  /**
   * A login's entity: the one holding the alias (mount, name), updated with the alias metadata the
   * method reports; a new entity holding a new alias otherwise. `groupAliases` (names the method
   * vouches for) set the entity's membership of the external groups aliased on this mount.
   */
  async forLogin(now: number, mountAccessor: string, alias: { name: string; metadata?: Record<string, string> }, groupAliases: string[] = []): Promise<Entity> {
    return this.write(async () => {
      const found = this.entityAliasByName(mountAccessor, alias.name);
      let entity = found ? this.entity(found.canonical_id) : null;
      const metadata = alias.metadata && Object.keys(alias.metadata).length > 0 ? { ...alias.metadata } : null;
      if (!entity) {
        entity = this.newEntity(now);
        entity.aliases = [newEntityAlias(entity.id, mountAccessor, alias.name, metadata, now)];
        await this.putEntity(entity);
      } else if (JSON.stringify(found!.metadata) !== JSON.stringify(metadata)) {
        const aliases = entity.aliases.map((a) => (a.id === found!.id ? { ...a, metadata, last_update_time: now } : a));
        entity = { ...entity, aliases, last_update_time: now };
        await this.putEntity(entity);
      }
      await this.#refreshExternalGroups(entity.id, mountAccessor, new Set(groupAliases), now);
      return entity;
    });
  }

  async #refreshExternalGroups(entityId: string, mountAccessor: string, names: Set<string>, now: number): Promise<void> {
    for (const group of this.groups()) {
      if (group.type !== "external" || group.alias?.mount_accessor !== mountAccessor) continue;
      const member = group.member_entity_ids.includes(entityId);
      const vouched = names.has(group.alias.name);
      if (member === vouched) continue;
      const members = vouched ? [...group.member_entity_ids, entityId] : group.member_entity_ids.filter((id) => id !== entityId);
      await this.putGroup({ ...group, member_entity_ids: members, last_update_time: now, modify_index: group.modify_index + 1 });
    }
  }

  /** 400 unless `accessor` names an auth mount. */
  requireMount(accessor: string): { type: string; path: string } {
    const mount = accessor ? this.mounts(accessor) : null;
    if (!mount) throw new LogicalError(400, `invalid mount accessor "${accessor}"`);
    return mount;
  }
}

function aliasKey(mountAccessor: string, name: string): string {
  return `${mountAccessor}\n${name}`;
}

export function newEntityAlias(canonicalId: string, mountAccessor: string, name: string, metadata: Record<string, string> | null, now: number): EntityAlias {
  return {
    id: randomUuid(),
    canonical_id: canonicalId,
    mount_accessor: mountAccessor,
    name,
    metadata,
    custom_metadata: null,
    creation_time: now,
    last_update_time: now,
    merged_from_canonical_ids: null,
  };
}
