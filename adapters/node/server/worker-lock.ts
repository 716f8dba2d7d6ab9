/**
 * The HA lock held from a worker thread (lock-worker.ts), so no request work on the main event
 * loop (a large body being parsed, a long handler) can delay a renewal and cost the node its term.
 * The main thread sees the hold through shared memory (shared-hold.ts): `held()` and
 * `certainForMs()` stay synchronous and right however late the main loop runs, so the fencing
 * checks before each write are unchanged. The main loop beats a heartbeat there; if it stops for
 * `ha_stall_timeout`, the worker gives the lock up, so a wedged node does not leave the cluster
 * without a working active.
 *
 * Only for stores other processes reach (DynamoDB, etcd, ZooKeeper): an `inmem_ha` store lives in
 * the main thread's memory, which a worker cannot share, so it keeps its lock in-process.
 */
import { Worker } from "node:worker_threads";
import { ConfigError, type LogLevel, type StorageConfig } from "../../../src/config/types.js";
import type { Logger } from "../../../src/sdk/logger.js";
import type { Backend } from "../../../src/physical/backend.js";
import { type HABackend, type HALock, type LockHold, LockLostError, type LockRenewal } from "../../../src/physical/ha.js";
import { StorageOptions } from "../../../src/physical/options.js";
import { SharedHold } from "./shared-hold.js";

/** Stores whose lock records live in this process's memory: no worker can hold their lock. */
const IN_PROCESS_LOCK_STORES = new Set(["inmem_ha"]);

export interface LockWorkerData {
  stanza: StorageConfig;
  buffer: SharedArrayBuffer;
  stallTimeoutMs: number;
  logLevel: LogLevel;
}

export type ToLockWorker = { type: "acquire"; id: number; key: string; value: string } | { type: "cancel"; id: number } | { type: "release"; id: number };

export type FromLockWorker =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "acquired"; id: number; epoch: number }
  | { type: "acquire-failed"; id: number; message: string }
  | ({ type: "renewed"; id: number } & LockRenewal)
  | { type: "lost"; id: number; reason: string }
  | { type: "released"; id: number; error?: string };

/** The lock-holding stanza: `ha_storage` when given, else `storage`. */
export function lockStanza(config: { storage: StorageConfig; haStorage?: StorageConfig }): StorageConfig {
  return config.haStorage ?? config.storage;
}

export function locksInWorker(stanza: StorageConfig): boolean {
  return !IN_PROCESS_LOCK_STORES.has(stanza.type);
}

/** `ha_stall_timeout` from the lock's stanza: by default ten leases; never shorter than one. */
export function stallTimeoutMs(stanza: StorageConfig, leaseMs: number, files: string[], env: Record<string, string | undefined>): number {
  const options = new StorageOptions(stanza.type, stanza.options, env);
  const timeoutMs = options.durationMs("ha_stall_timeout", 10 * leaseMs);
  if (timeoutMs < leaseMs) {
    throw new ConfigError(
      `${files.join(", ")}: storage "${stanza.type}": ha_stall_timeout = "${stanza.options.ha_stall_timeout}" is not allowed: use at least ha_lease_duration (${leaseMs} ms)`,
    );
  }
  return timeoutMs;
}

export interface LockWorkerOptions {
  stanza: StorageConfig;
  leaseMs: number;
  stallTimeoutMs: number;
  logLevel: LogLevel;
  logger: Logger;
  /** The worker's module; tests running the TypeScript sources point it at the build. */
  workerUrl?: URL;
}

interface PendingAcquire {
  resolve(hold: LockHold): void;
  reject(error: Error): void;
}

export class LockWorker {
  readonly #worker: Worker;
  readonly #shared = new SharedHold();
  readonly #logger: Logger;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #acquiring = new Map<number, PendingAcquire>();
  readonly #holds = new Map<number, WorkerHold>();
  readonly #releasing = new Map<number, { resolve(): void; reject(error: Error): void }>();
  #nextId = 1;
  #gone: Error | null = null;

  /** Starts the worker and waits until it has connected to the store. */
  static async start(options: LockWorkerOptions): Promise<LockWorker> {
    const lockWorker = new LockWorker(options);
    await lockWorker.#ready;
    // The node's listeners keep the process alive; the thread must not keep a node that failed to start.
    lockWorker.#worker.unref();
    return lockWorker;
  }

  readonly #ready: Promise<void>;

  private constructor(options: LockWorkerOptions) {
    this.#logger = options.logger;
    this.#shared.beat();
    // Well inside the stall timeout, so only a loop that really stopped misses it.
    this.#heartbeat = setInterval(() => this.#shared.beat(), Math.min(options.leaseMs, options.stallTimeoutMs) / 4);
    this.#heartbeat.unref();
    const workerData: LockWorkerData = {
      stanza: options.stanza,
      buffer: this.#shared.buffer,
      stallTimeoutMs: options.stallTimeoutMs,
      logLevel: options.logLevel,
    };
    this.#worker = new Worker(options.workerUrl ?? new URL("./lock-worker.js", import.meta.url), { workerData });
    this.#ready = new Promise((resolve, reject) => {
      const onMessage = (message: FromLockWorker) => {
        if (message.type === "ready") resolve();
        else if (message.type === "failed") reject(new Error(message.message));
        else this.#receive(message);
      };
      this.#worker.on("message", onMessage);
      this.#worker.on("error", (error) => this.#goneWith(error));
      this.#worker.on("exit", (code) => {
        const error = new Error(`the HA lock worker exited (code ${code})`);
        reject(error);
        this.#goneWith(error);
      });
    });
  }

  lock(key: string, value: string): HALock {
    return {
      acquire: (signal) => {
        if (this.#gone) return Promise.reject(this.#gone);
        if (signal?.aborted) return Promise.reject(signal.reason);
        const id = this.#nextId++;
        return new Promise<LockHold>((resolve, reject) => {
          const onAbort = () => {
            this.#acquiring.delete(id);
            this.#post({ type: "cancel", id });
            reject(signal!.reason);
          };
          signal?.addEventListener("abort", onAbort, { once: true });
          this.#acquiring.set(id, {
            resolve: (hold) => (signal?.removeEventListener("abort", onAbort), resolve(hold)),
            reject: (error) => (signal?.removeEventListener("abort", onAbort), reject(error)),
          });
          this.#post({ type: "acquire", id, key, value });
        });
      },
    };
  }

  /** Gives up any hold and ends the thread. */
  async close(): Promise<void> {
    this.#goneWith(new Error("the HA lock worker was closed"), { expected: true });
    await this.#worker.terminate();
  }

  /** The hold `id` as the worker sees it (shared-hold.ts). */
  certainForMs(id: number): number {
    return this.#shared.certainForMs(id);
  }

  endedMsAgo(id: number): number | null {
    return this.#shared.endedMsAgo(id);
  }

  /** Tells the worker to release hold `id`, which this thread has given up already; nobody waits on it. */
  abandon(id: number): void {
    this.#post({ type: "release", id });
  }

  release(id: number): Promise<void> {
    if (this.#gone) return Promise.reject(this.#gone);
    return new Promise((resolve, reject) => {
      this.#releasing.set(id, { resolve, reject });
      this.#post({ type: "release", id });
    });
  }

  #post(message: ToLockWorker): void {
    if (!this.#gone) this.#worker.postMessage(message);
  }

  #receive(message: FromLockWorker): void {
    if (message.type === "acquired") {
      const pending = this.#acquiring.get(message.id);
      this.#acquiring.delete(message.id);
      // Cancelled meanwhile: the worker releases it on the cancel, which it has or will have seen.
      if (!pending) return;
      const hold = new WorkerHold(this, message.id, message.epoch);
      this.#holds.set(message.id, hold);
      pending.resolve(hold);
    } else if (message.type === "acquire-failed") {
      this.#acquiring.get(message.id)?.reject(new Error(message.message));
      this.#acquiring.delete(message.id);
    } else if (message.type === "renewed") {
      this.#holds.get(message.id)?.renewed({ latencyMs: message.latencyMs, marginMs: message.marginMs });
    } else if (message.type === "lost") {
      const hold = this.#holds.get(message.id);
      this.#holds.delete(message.id);
      // Already seen through shared memory (this loop was held up): say here what happened.
      if (hold?.lost.aborted) this.#logger.warn("the HA lock worker lost the lock", { reason: message.reason });
      // When it ended, as of now: the worker's own account is as old as this message.
      hold?.lose(`the hold ended (passed ${Math.round(this.endedMsAgo(message.id) ?? 0)} ms ago): ${message.reason}`);
    } else if (message.type === "released") {
      const pending = this.#releasing.get(message.id);
      this.#releasing.delete(message.id);
      this.#holds.delete(message.id);
      if (message.error) pending?.reject(new Error(message.error));
      else pending?.resolve();
    }
  }

  /** The worker died: nothing it held is certain, and nothing waiting on it will be answered. */
  #goneWith(error: Error, { expected = false } = {}): void {
    if (this.#gone) return;
    this.#gone = error;
    clearInterval(this.#heartbeat);
    this.#shared.lost();
    if (!expected) this.#logger.error("the HA lock worker stopped; this node cannot be active", { error: error.message });
    for (const hold of this.#holds.values()) hold.lose(error.message);
    for (const waiting of [...this.#acquiring.values(), ...this.#releasing.values()]) waiting.reject(error);
    this.#holds.clear();
    this.#acquiring.clear();
    this.#releasing.clear();
  }
}

/** The main thread's view of a hold the worker has. */
class WorkerHold implements LockHold {
  readonly lost: AbortSignal;
  readonly #lost = new AbortController();
  #onRenewed: ((renewal: LockRenewal) => void) | null = null;

  constructor(
    private readonly worker: LockWorker,
    private readonly id: number,
    readonly epoch: number,
  ) {
    this.lost = this.#lost.signal;
  }

  held(): boolean {
    if (this.#lost.signal.aborted) return false;
    if (this.worker.certainForMs(this.id) > 0) return true;
    // The worker's message saying why may still be queued behind whatever held this loop up. When
    // the hold ended matters to whoever reads the log (the term ended then, not now).
    const endedMsAgo = this.worker.endedMsAgo(this.id) ?? 0;
    this.lose(`the HA lock worker's hold is no longer certain (passed ${Math.round(endedMsAgo)} ms ago)`);
    // The worker may have renewed it just now, unpublished: it must stop renewing a hold this node no
    // longer serves under, or the record keeps changing and nobody, this node included, takes the lock.
    this.worker.abandon(this.id);
    return false;
  }

  certainForMs(): number {
    return this.held() ? this.worker.certainForMs(this.id) : 0;
  }

  release(): Promise<void> {
    this.lose("the lock was released");
    return this.worker.release(this.id);
  }

  onRenewed(listener: (renewal: LockRenewal) => void): void {
    this.#onRenewed = listener;
  }

  /** The worker renewed the lease; its figures are as the worker's clock saw them. */
  renewed(renewal: LockRenewal): void {
    this.#onRenewed?.(renewal);
  }

  lose(reason: string): void {
    if (!this.#lost.signal.aborted) this.#lost.abort(new LockLostError(reason));
  }
}

/** `backend` with its lock held by `worker`; everything else (data, fencing, `currentHolder`) is unchanged. */
export function lockingInWorker<T extends Backend & HABackend>(backend: T, worker: LockWorker): T {
  return new Proxy(backend, {
    get(target, property) {
      if (property === "lockWith") return (key: string, value: string) => worker.lock(key, value);
      if (property === "close") {
        return () => {
          void worker.close();
          (target as { close?(): void }).close?.();
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
