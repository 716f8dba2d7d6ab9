/**
 * Promises over node-zookeeper-client (pure JavaScript, ZooKeeper's binary protocol over TCP, or
 * TLS through zookeeper-tls.ts), each call bounded in time: the library retries a lost connection without failing queued
 * requests, so an unbounded call could hang a request or the lock for as long as the outage.
 */
import type { ConnectionOptions } from "node:tls";
import zookeeper from "node-zookeeper-client";
import type { ACL, Client, Exception, Stat } from "node-zookeeper-client";
import { dialTls } from "./zookeeper-tls.js";

const { CreateMode } = zookeeper;
export const ZK = zookeeper.Exception;

export interface ZooKeeperConnection {
  addresses: string;
  sessionTimeoutMs: number;
  /** "scheme:secret" credentials added to the session (Vault's `auth_info`). */
  authInfo?: { scheme: string; secret: string };
  acl: ACL[];
  /** Dial the servers over TLS with these options (their secureClientPort). */
  tls?: ConnectionOptions;
}

/** A ZooKeeper error code (ZK.NO_NODE, ZK.BAD_VERSION, …), or undefined for other failures. */
export function zkCode(error: unknown): number | undefined {
  return typeof (error as Exception | undefined)?.getCode === "function" ? (error as Exception).getCode() : undefined;
}

export type MultiOp =
  | { check: string; version: number }
  | { setData: string; data: Uint8Array; version: number }
  | { create: string; data: Uint8Array }
  | { remove: string; version: number };

export class ZooKeeperClient {
  #closed = false;

  private constructor(
    private client: Client,
    private readonly settings: ZooKeeperConnection,
  ) {
    this.#renewOnExpiry(client);
  }

  /** Connects, resolving once the session is established; rejects after `timeoutMs`. */
  static async connect(settings: ZooKeeperConnection, timeoutMs: number): Promise<ZooKeeperClient> {
    return new ZooKeeperClient(await ZooKeeperClient.#open(settings, timeoutMs), settings);
  }

  static async #open(settings: ZooKeeperConnection, timeoutMs: number): Promise<Client> {
    const client = zookeeper.createClient(settings.addresses, { sessionTimeout: settings.sessionTimeoutMs, spinDelay: 100, retries: 0 });
    if (settings.authInfo) client.addAuthInfo(settings.authInfo.scheme, Buffer.from(settings.authInfo.secret));
    const lastTlsError = settings.tls ? dialTls(client, settings.tls) : () => null;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        const tlsError = lastTlsError();
        reject(
          new Error(`no ZooKeeper server at ${settings.addresses} answered within ${timeoutMs} ms${tlsError ? ` (last TLS error: ${tlsError.message})` : ""}`),
        );
      }, timeoutMs);
      client.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      client.once("authenticationFailed", () => {
        clearTimeout(timer);
        client.close();
        reject(new Error(`ZooKeeper at ${settings.addresses} refused auth_info (scheme "${settings.authInfo?.scheme}")`));
      });
      client.connect();
    });
    return client;
  }

  /** A session the server expired cannot be resumed (the library would retry it forever): open a new one. */
  #renewOnExpiry(client: Client): void {
    client.once("expired", async () => {
      client.close();
      while (!this.#closed) {
        try {
          this.client = await ZooKeeperClient.#open(this.settings, this.settings.sessionTimeoutMs);
          if (this.#closed) this.client.close();
          else this.#renewOnExpiry(this.client);
          return;
        } catch {
          // Unreachable or refusing: try again shortly; requests meanwhile fail on the closed client.
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    });
  }

  close(): void {
    this.#closed = true;
    this.client.close();
  }

  getData(path: string, signal: AbortSignal): Promise<{ data: Uint8Array; stat: Stat } | null> {
    return this.#call(signal, (done) =>
      this.client.getData(path, (error, data, stat) =>
        zkCode(error) === ZK.NO_NODE ? done(null, null) : done(error, error ? null : { data: new Uint8Array(data ?? []), stat }),
      ),
    );
  }

  setData(path: string, data: Uint8Array, version: number, signal: AbortSignal): Promise<Stat> {
    return this.#call(signal, (done) => this.client.setData(path, Buffer.from(data), version, done));
  }

  create(path: string, data: Uint8Array, signal: AbortSignal): Promise<void> {
    return this.#call(signal, (done) =>
      this.client.create(path, Buffer.from(data), this.settings.acl, CreateMode.PERSISTENT, (error) => done(error, undefined)),
    );
  }

  remove(path: string, version: number, signal: AbortSignal): Promise<void> {
    return this.#call(signal, (done) => this.client.remove(path, version, (error) => done(error, undefined)));
  }

  /** Children's names, or null when `path` does not exist. */
  getChildren(path: string, signal: AbortSignal): Promise<string[] | null> {
    return this.#call(signal, (done) =>
      this.client.getChildren(path, (error, children) => (zkCode(error) === ZK.NO_NODE ? done(null, null) : done(error, children))),
    );
  }

  /**
   * Runs `ops` atomically; resolves with each op's error code (0 for all when it committed).
   * The library sends a version of 0 as -1 ("any version"), so a version-checked znode must never
   * be at version 0: callers create such znodes and set them once in the same multi-op.
   */
  multi(ops: MultiOp[], signal: AbortSignal): Promise<number[]> {
    if (ops.some((op) => "version" in op && op.version === 0)) {
      return Promise.reject(new Error("a ZooKeeper transaction cannot check version 0 (node-zookeeper-client sends it as any version)"));
    }
    const transaction = this.client.transaction();
    for (const op of ops) {
      if ("check" in op) transaction.check(op.check, op.version);
      else if ("setData" in op) transaction.setData(op.setData, Buffer.from(op.data), op.version);
      else if ("create" in op) transaction.create(op.create, Buffer.from(op.data), this.settings.acl, CreateMode.PERSISTENT);
      else transaction.remove(op.remove, op.version);
    }
    return this.#call(signal, (done) =>
      transaction.commit((error, results: { err?: number }[] | undefined) => {
        // A failed op comes back as an error with the per-op results alongside.
        if (error && zkCode(error) !== undefined && Array.isArray(results))
          return done(
            null,
            results.map((r) => r.err ?? 0),
          );
        done(
          error,
          ops.map(() => 0),
        );
      }),
    );
  }

  #call<T>(signal: AbortSignal, start: (done: (error: unknown, value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      start((error, value) => {
        signal.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve(value);
      });
    });
  }
}
