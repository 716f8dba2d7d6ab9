/**
 * The `config`, `role` and `role/:name` endpoints of an auth method whose logins name a role (jwt,
 * kubernetes): the mount's one configuration, and roles listed, read, written and deleted with
 * their names in canonical form (names.ts).
 */
import type { AuthRequest } from "./auth.js";
import type { Endpoint } from "./framework.js";
import { trimTrailingSlashes } from "./fields.js";
import { VAULT_LEASE_TTLS } from "./lease-ttls.js";
import { canonicalName, requireCanonicalName } from "./names.js";
import { listResponse, notFound } from "./responses.js";
import type { Storage } from "./types.js";

export const ROLE_NAME = "role name";

export interface RoleStore<R> {
  readRole(storage: Storage, name: string): Promise<R | null>;
  /** Writes the role from the request's fields; returns Vault's warnings. `maxLeaseTtl`: the mount's (else Vault's default). */
  writeRole(storage: Storage, name: string, existing: R | null, data: Record<string, unknown>, maxLeaseTtl: number): Promise<string[]>;
  deleteRole(storage: Storage, name: string): Promise<void>;
  listRoles(storage: Storage): Promise<string[]>;
  describeRole(role: R): Record<string, unknown>;
}

export interface ConfigStore<C> {
  readConfig(storage: Storage): Promise<C | null>;
  /** Writes the configuration from the request's fields, checking them. */
  writeConfig(storage: Storage, data: Record<string, unknown>): Promise<unknown>;
  describeConfig(config: C): Record<string, unknown>;
}

/** `config`: read (404 until written) and write. */
export function configEndpoint<C>(config: ConfigStore<C>): Endpoint<AuthRequest> {
  return {
    pattern: "config",
    operations: {
      read: async ({ storage }) => {
        const stored = await config.readConfig(storage);
        if (!stored) throw notFound();
        return { data: config.describeConfig(stored) };
      },
      update: async ({ storage, data }) => {
        await config.writeConfig(storage, data);
        return null;
      },
    },
  };
}

/** `role/<name>...` with the name in canonical form, so the ACL judges the path that is stored. */
export function canonicalRolePath(path: string): string {
  const match = /^role\/([^/]+)(\/.*)?$/.exec(path);
  return match ? `role/${canonicalName(match[1]!, ROLE_NAME)}${trimTrailingSlashes(match[2] ?? "")}` : path;
}

export function roleEndpoints<R>(roles: RoleStore<R>): Endpoint<AuthRequest>[] {
  const list = async ({ storage }: AuthRequest) => listResponse(await roles.listRoles(storage));
  return [
    // LIST auth/<mount>/role, with or without the trailing slash.
    { pattern: "role", operations: { list } },
    { pattern: "role/", operations: { list } },
    {
      pattern: "role/:name",
      exists: async ({ storage }, { name }) => (await roles.readRole(storage, requireCanonicalName(name!, ROLE_NAME))) !== null,
      operations: {
        read: async ({ storage }, { name }) => {
          const role = await roles.readRole(storage, requireCanonicalName(name!, ROLE_NAME));
          if (!role) throw notFound();
          return { data: roles.describeRole(role) };
        },
        update: async ({ storage, data, mount }, { name }) => {
          const canonical = requireCanonicalName(name!, ROLE_NAME);
          const maxLeaseTtl = mount.config.max_lease_ttl || VAULT_LEASE_TTLS.maxSeconds;
          const warnings = await roles.writeRole(storage, canonical, await roles.readRole(storage, canonical), data, maxLeaseTtl);
          return warnings.length > 0 ? { warnings } : null;
        },
        delete: async ({ storage }, { name }) => {
          await roles.deleteRole(storage, requireCanonicalName(name!, ROLE_NAME));
          return null;
        },
      },
    },
  ];
}
