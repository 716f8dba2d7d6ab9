/** Mount storage in a Map, and a mount entry, for calling an auth method directly (without a core). */
import type { MountEntry, Storage } from "../../src/sdk/types.js";

export function memoryStorage(): Storage {
  const entries = new Map<string, Uint8Array>();
  return {
    get: async (key) => entries.get(key) ?? null,
    put: async (key, value) => void entries.set(key, value),
    delete: async (key) => void entries.delete(key),
    list: async (prefix) =>
      [...new Set([...entries.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length).replace(/\/.*/s, "/")))].sort(),
  };
}

export function testMount(type: string): MountEntry {
  return {
    path: `${type}/`,
    type,
    description: "",
    accessor: `auth_${type}_1`,
    uuid: `${type}-${Math.random().toString(36).slice(2)}`,
    config: { default_lease_ttl: 0, max_lease_ttl: 0 },
    options: {},
    local: false,
    seal_wrap: false,
  };
}
