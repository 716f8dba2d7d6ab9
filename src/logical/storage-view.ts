import { readShared } from "../sdk/types.js";
import type { Storage } from "../sdk/types.js";

/** A `Storage` confined to `prefix` of another one (a mount's or the token store's slice of the barrier). */
export function storageView(parent: Storage, prefix: string): Storage {
  return {
    get: (key) => parent.get(prefix + key),
    getShared: (key) => readShared(parent, prefix + key),
    put: (key, value) => parent.put(prefix + key, value),
    delete: (key) => parent.delete(prefix + key),
    list: (key) => parent.list(prefix + key),
  };
}
