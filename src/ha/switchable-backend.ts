import { aroundWrites, type Backend } from "../physical/backend.js";
import { FencedError, type LockHold } from "../physical/ha.js";

/**
 * The barrier's view of physical storage. While active on a fenceable backend it points at a view
 * whose writes are conditional on our lock epoch, so a deposed active's late write is refused by
 * storage itself; on other storage, at a view that checks the hold before each write. Until the
 * first term it points at the plain backend.
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

/**
 * `target` for storage that cannot fence: each write first checks that `hold` is still ours, so a
 * request handler that outlived its term (the process was paused mid-request) writes nothing.
 */
export function writableWhileHeld(target: Backend, hold: LockHold): Backend {
  return aroundWrites(target, async (write) => {
    if (!hold.held()) throw new FencedError(`write refused: this node's hold on the HA lock (epoch ${hold.epoch}) has ended`);
    await write();
  });
}
