import { type Backend, childrenOf } from "./backend.js";
import type { StorageDriver } from "./driver.js";

/** `storage "inmem"`: nothing survives the process; no HA lock (that is `inmem_ha`). */
export const inmemDriver: StorageDriver = { type: "inmem", ha: false, create: async () => new InmemBackend() };

/** Process-memory storage: `server --dev` and tests. Values are copied so callers cannot alias them. */
export class InmemBackend implements Backend {
  readonly #entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | null> {
    const value = this.#entries.get(key);
    return value ? value.slice() : null;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    this.#entries.set(key, value.slice());
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    return childrenOf(
      prefix,
      [...this.#entries.keys()].filter((k) => k.startsWith(prefix)),
    );
  }
}
