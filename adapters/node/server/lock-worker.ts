/**
 * The HA lock's thread (see worker-lock.ts): its own connection to the lock store, the lease
 * algorithm's renewals, and the hold as shared memory the main thread reads. Nothing here waits on
 * request work, so a main event loop busy parsing a large body does not delay a renewal.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createLogger } from "../../../src/sdk/logger.js";
import { type HALock, isHABackend, type LockHold } from "../../../src/physical/ha.js";
import { nodeDrivers } from "../stores/backends.js";
import { SharedHold } from "./shared-hold.js";
import type { FromLockWorker, LockWorkerData, ToLockWorker } from "./worker-lock.js";

const data = workerData as LockWorkerData;
const port = parentPort!;
const shared = new SharedHold(data.buffer);
const logger = createLogger(data.logLevel, (line) => process.stderr.write(`${line}\n`), "ha.lock-worker");
const send = (message: FromLockWorker) => port.postMessage(message);

interface Acquisition {
  id: number;
  cancel: AbortController;
  hold?: LockHold;
  /** Why we gave the hold up ourselves, said instead of the lease's generic "released". */
  lostReason?: string;
}

let current: Acquisition | null = null;

try {
  const backend = await nodeDrivers[data.stanza.type]!.create(data.stanza.options, process.env);
  if (!isHABackend(backend)) throw new Error(`storage "${data.stanza.type}" cannot hold the HA lock here`);
  port.on("message", (message: ToLockWorker) => {
    if (message.type === "acquire") acquire(backend.lockWith(message.key, message.value), message.id);
    else if (message.type === "cancel") cancel(message.id);
    else void release(message.id);
  });
  // Often enough that the deadline the main thread reads trails a renewal by a small part of the lease.
  setInterval(publish, Math.max(5, backend.leaseMs / 50));
  send({ type: "ready" });
} catch (error) {
  send({ type: "failed", message: (error as Error).message });
}

function acquire(lock: HALock, id: number): void {
  const acquisition: Acquisition = { id, cancel: new AbortController() };
  current = acquisition;
  lock.acquire(acquisition.cancel.signal).then(
    (hold) => {
      acquisition.hold = hold;
      if (acquisition.cancel.signal.aborted || current !== acquisition) return void hold.release().catch(() => {});
      shared.holding(id, () => hold.certainForMs());
      send({ type: "acquired", id, epoch: hold.epoch });
      hold.onRenewed?.((renewal) => {
        // Published now, not at the next tick: a renewal that came late in the term must reach the
        // main thread before the deadline it had read runs out.
        if (current === acquisition) shared.holding(id, () => hold.certainForMs());
        send({ type: "renewed", id, ...renewal });
      });
      const onLost = () => {
        shared.lost();
        const reason = acquisition.lostReason ?? String((hold.lost.reason as Error)?.message ?? hold.lost.reason);
        send({ type: "lost", id, reason });
      };
      if (hold.lost.aborted) onLost();
      else hold.lost.addEventListener("abort", onLost, { once: true });
    },
    (error) => {
      if (!acquisition.cancel.signal.aborted) send({ type: "acquire-failed", id, message: String(error) });
    },
  );
}

function cancel(id: number): void {
  if (current?.id !== id) return;
  current.cancel.abort(new Error("acquisition cancelled"));
  void release(id);
}

async function release(id: number): Promise<void> {
  const acquisition = current?.id === id ? current : null;
  if (acquisition) current = null;
  try {
    await acquisition?.hold?.release();
    send({ type: "released", id });
  } catch (error) {
    send({ type: "released", id, error: String(error) });
  }
}

/**
 * Tells the main thread how long the hold is certain, or gives the lock up when the main thread's
 * event loop has not run for `ha_stall_timeout`: a wedged node would otherwise keep the cluster
 * without a working active for as long as it stays wedged.
 */
function publish(): void {
  const acquisition = current;
  const hold = acquisition?.hold;
  if (!acquisition || !hold || hold.lost.aborted) return;
  const silentMs = shared.mainSilentForMs();
  if (silentMs > data.stallTimeoutMs) {
    acquisition.lostReason = `the main event loop has not run for ${Math.round(silentMs)} ms (ha_stall_timeout ${data.stallTimeoutMs} ms): gave the lock up so another node can take over`;
    logger.warn(acquisition.lostReason);
    current = null;
    hold.release().catch((error) => logger.warn("could not release the HA lock; it will expire", { error: String(error) }));
    return;
  }
  if (hold.held()) shared.holding(acquisition.id, () => hold.certainForMs());
}
