import type { Backend } from "../physical/backend.js";

/**
 * The barrier's view of physical storage. While active on a fenceable backend it points at a view
 * whose writes are conditional on our lock epoch, so a deposed active's late write is refused by
 * storage itself; otherwise it points at the plain backend.
 */
export class SwitchableBackend implements Backend {
  target: Backend;

  constructor(target: Backend) {
    this.target = target;
  }

  get(key: string) {
    return this.target.get(key);
  }

  put(key: string, value: Uint8Array) {
    return this.target.put(key, value);
  }

  delete(key: string) {
    return this.target.delete(key);
  }

  list(prefix: string) {
    return this.target.list(prefix);
  }
}
