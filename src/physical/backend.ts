import { readShared } from "../sdk/types.js";
/**
 * The physical layer: opaque bytes under string keys. Everything above it (the barrier) encrypts,
 * so a backend never sees plaintext. Semantics every backend must share (checked by the
 * conformance suite in test/physical):
 * - keys are '/'-separated paths without a leading '/';
 * - `get` of a missing key is `null`, `delete` of a missing key is not an error;
 * - `list(prefix)` returns the immediate children under `prefix` (which is '' or ends in '/'),
 *   sorted, with sub-folders once each and suffixed by '/', as Vault's physical.Backend does.
 */
export interface Backend {
  get(key: string): Promise<Uint8Array | null>;
  /**
   * `get` without the copy, where a layer holds the value anyway (the read cache): bytes the caller
   * must never modify, and while the stored value is unchanged often the very same object, so work
   * done on them can be remembered by identity. Absent: `get` is as cheap.
   */
  getShared?(key: string): Promise<Uint8Array | null>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
}

/** `target` with each put and delete run inside `around` (to check, count or refuse it); reads pass through. */
export function aroundWrites(target: Backend, around: (write: () => Promise<void>) => Promise<void>): Backend {
  return {
    get: (key) => target.get(key),
    getShared: (key) => readShared(target, key),
    list: (prefix) => target.list(prefix),
    put: (key, value) => around(() => target.put(key, value)),
    delete: (key) => around(() => target.delete(key)),
  };
}

/** Raised for input a backend cannot store (value too large, key it cannot represent). */
export class BackendInputError extends Error {
  override name = "BackendInputError";
}

/** Immediate children of `prefix` among `keys` (all of which start with `prefix`), Vault-style. */
export function childrenOf(prefix: string, keys: Iterable<string>): string[] {
  const children = new Set<string>();
  for (const key of keys) {
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf("/");
    children.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...children].sort();
}
