import { expect } from "vitest";
import { InmemBackend } from "../../src/physical/inmem.js";
import { type HandlerResult, type MountEntry, type Operation, type SecretsEngine, type Storage, LogicalError } from "../../src/sdk/types.js";

export function mountEntry(overrides: Partial<MountEntry> = {}): MountEntry {
  return {
    path: "secret/",
    type: "kv",
    description: "",
    accessor: "kv_0123abcd",
    uuid: "5b4a0d54-0000-4000-8000-000000000001",
    config: { default_lease_ttl: 0, max_lease_ttl: 0 },
    options: {},
    local: false,
    seal_wrap: false,
    ...overrides,
  };
}

/** An engine bound to one mount and one in-memory storage, called like the HTTP layer would. */
export function engineClient(engine: SecretsEngine, mount = mountEntry(), storage: Storage = new InmemBackend()) {
  const call = (operation: Operation, path: string, data: Record<string, unknown> = {}): Promise<HandlerResult> =>
    engine.handle({ operation, path, data, storage, mount });
  return {
    storage,
    mount,
    call,
    read: (path: string, query: Record<string, unknown> = {}) => call("read", path, query),
    write: (path: string, body: Record<string, unknown>) => call("update", path, body),
    patch: (path: string, body: Record<string, unknown>) => call("patch", path, body),
    remove: (path: string) => call("delete", path),
    list: (path: string, query: Record<string, unknown> = {}) => call("list", path, query),
  };
}

/** Awaits a rejection with a LogicalError of `status` (and `message` when given); returns it. */
export async function expectLogicalError(pending: Promise<unknown>, status: number, message?: string | RegExp): Promise<LogicalError> {
  const error = await pending.then(
    () => expect.fail(`expected a ${status} LogicalError, but the call succeeded`),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LogicalError);
  const logical = error as LogicalError;
  expect(logical.status).toBe(status);
  if (typeof message === "string") expect(logical.message).toBe(message);
  if (message instanceof RegExp) expect(logical.message).toMatch(message);
  return logical;
}

/** Storage that yields to the event loop on every call, so unsynchronised writers would interleave. */
export class SlowStorage implements Storage {
  readonly #inner = new InmemBackend();
  async get(key: string) {
    await pause();
    return this.#inner.get(key);
  }
  async put(key: string, value: Uint8Array) {
    await pause();
    return this.#inner.put(key, value);
  }
  async delete(key: string) {
    await pause();
    return this.#inner.delete(key);
  }
  async list(prefix: string) {
    await pause();
    return this.#inner.list(prefix);
  }
}

function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
}

/** Records the keys read from an underlying storage. */
export class RecordingStorage implements Storage {
  readonly reads: string[] = [];
  constructor(private readonly inner: Storage) {}
  get(key: string) {
    this.reads.push(key);
    return this.inner.get(key);
  }
  put(key: string, value: Uint8Array) {
    return this.inner.put(key, value);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
}
