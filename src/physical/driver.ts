import type { Backend } from "./backend.js";

/**
 * How a `storage "<type>"` stanza becomes a Backend. Each store exports its own driver, so adding
 * a store is one module plus one line in the registry.
 */
export interface StorageDriver {
  /** The stanza name, e.g. "dynamodb". */
  readonly type: string;
  /** Whether this store can hold the HA lock (banner "(HA available)", ha_storage validation). */
  readonly ha: boolean;
  create(options: Record<string, string>, env: Record<string, string | undefined>): Promise<Backend>;
}
