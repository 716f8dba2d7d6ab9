/**
 * Vault's cubbyhole: every token's private key/value space, mounted at `cubbyhole/` on every
 * cluster. A token sees only its own cubbyhole (root included), and the cubbyhole goes when the
 * token is revoked or expires. Each token's entries live under the token's salted HMAC (the token
 * store's key for it), never under the token itself.
 */
import { isPlainObject } from "../sdk/fields.js";
import { decodeJson, encodeJson } from "../sdk/encoding.js";
import { listPrefix, notFound } from "../sdk/responses.js";
import { builtinMount, deleteTree } from "./mounts.js";
import { storageView } from "./storage-view.js";
import { type HandlerResult, LogicalError, type MountEntry, type Operation, type Storage, unsupportedOperation } from "../sdk/types.js";

export const CUBBYHOLE_MOUNT_PATH = "cubbyhole/";

/** Where the cubbyhole's mount entry (its accessor and uuid, stable across restarts) is kept. */
const MOUNT_ENTRY_KEY = "core/cubbyhole-mount";

interface CubbyholeRequest {
  operation: Operation;
  /** Path below cubbyhole/. */
  path: string;
  data: Record<string, unknown>;
}

export class Cubbyhole {
  private constructor(
    private readonly storage: Storage,
    readonly entry: MountEntry,
  ) {}

  /** Opens the cubbyhole over the barrier, creating its mount entry the first time. */
  static async open(barrier: Storage): Promise<Cubbyhole> {
    const made = { path: CUBBYHOLE_MOUNT_PATH, type: "cubbyhole", description: "per-token private secret storage", local: true };
    const { entry, storage } = await builtinMount(barrier, MOUNT_ENTRY_KEY, made);
    return new Cubbyhole(storage, entry);
  }

  /** A request to `cubbyhole/<path>` by the token whose HMAC is `tokenHash`. */
  async handle(tokenHash: string, { operation, path, data }: CubbyholeRequest): Promise<HandlerResult> {
    const own = this.#own(tokenHash);
    switch (operation) {
      case "read": {
        const bytes = await own.get(requireKey(path));
        if (!bytes) throw notFound();
        return { data: decodeJson<Record<string, unknown>>(bytes) };
      }
      case "create":
      case "update":
        await this.write(tokenHash, requireKey(path), data);
        return null;
      case "delete":
        await own.delete(requireKey(path));
        return null;
      case "list":
        return { data: { keys: await own.list(listPrefix(path)) } };
      default:
        throw unsupportedOperation(`cubbyhole/${path}`, operation);
    }
  }

  /** Vault's existence check: a write to an existing entry needs "update", a new one "create". */
  async exists(tokenHash: string, path: string): Promise<boolean> {
    return path !== "" && (await this.#own(tokenHash).get(path)) !== null;
  }

  async read(tokenHash: string, key: string): Promise<Record<string, unknown> | null> {
    const bytes = await this.#own(tokenHash).get(key);
    return bytes ? decodeJson<Record<string, unknown>>(bytes) : null;
  }

  async write(tokenHash: string, key: string, data: Record<string, unknown>): Promise<void> {
    if (!isPlainObject(data) || Object.keys(data).length === 0) throw new LogicalError(400, "missing data fields");
    await this.#own(tokenHash).put(key, encodeJson(data));
  }

  /** Empties a token's cubbyhole: its token is revoked or expired. */
  async destroy(tokenHash: string): Promise<void> {
    await deleteTree(this.#own(tokenHash), "");
  }

  #own(tokenHash: string): Storage {
    return storageView(this.storage, `${tokenHash}/`);
  }
}

function requireKey(path: string): string {
  if (path === "") throw new LogicalError(400, "missing path");
  // A key ending in '/' would be indistinguishable from a folder when listing.
  if (path.endsWith("/")) throw new LogicalError(400, `invalid path "${path}": must not end with '/'`);
  return path;
}
