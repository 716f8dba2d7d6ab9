/**
 * `identity/`: mounted on every cluster, as in Vault, and never removable. The core routes
 * `identity/...` here (like `cubbyhole/`); its endpoints are declared with sdk/framework.ts so the
 * router reads their flags (the OIDC discovery documents need no token and standbys answer them).
 */
import { Endpoints } from "../../sdk/framework.js";
import type { EndpointFlags, HandlerResult, MountEntry, Storage } from "../../sdk/types.js";
import { builtinMount } from "../mounts.js";
import { entityEndpoints } from "./entity-endpoints.js";
import type { IdentityRequest } from "./fields.js";
import { groupEndpoints } from "./group-endpoints.js";
import { OidcProvider } from "./oidc.js";
import { type EntityView, IdentityStore, type MountLookup } from "./store.js";

export const IDENTITY_MOUNT_PATH = "identity/";

/** Where the identity mount's entry (its accessor and uuid, stable across restarts) is kept. */
const MOUNT_ENTRY_KEY = "core/identity-mount";

export class Identity {
  readonly store: IdentityStore;
  readonly #endpoints: Endpoints<IdentityRequest>;
  readonly #oidc: OidcProvider;

  private constructor(
    storage: Storage,
    readonly entry: MountEntry,
    mounts: MountLookup,
  ) {
    this.store = new IdentityStore(storage, mounts);
    this.#oidc = new OidcProvider(this.store);
    this.#endpoints = new Endpoints([...entityEndpoints(this.store), ...groupEndpoints(this.store), ...this.#oidc.endpoints()]);
  }

  /** Opens the identity store over the barrier, creating its mount entry the first time; entries load on first use. */
  static async open(barrier: Storage, mounts: MountLookup): Promise<Identity> {
    const made = { path: IDENTITY_MOUNT_PATH, type: "identity", description: "identity store", local: false };
    const { entry, storage } = await builtinMount(barrier, MOUNT_ENTRY_KEY, made);
    return new Identity(storage, entry, mounts);
  }

  /** Scheduled work on the active node: identity token keys rotate when due. */
  periodic(now: Date): Promise<void> {
    return this.#oidc.periodic(now.getTime());
  }

  /** A request to `identity/<path>`. */
  async handle(request: IdentityRequest): Promise<HandlerResult> {
    const result = await this.#endpoints.handle({ ...request, path: request.path.replace(/\/+$/, "") }, IDENTITY_MOUNT_PATH + request.path);
    return result && { ...result, mount_type: "identity" };
  }

  /** What the endpoint serving `path` (below identity/) declares, or null. */
  endpoint(path: string): EndpointFlags | null {
    return this.#endpoints.match(path.replace(/\/+$/, ""))?.endpoint ?? null;
  }

  /** The entity a token's `entity_id` names, with what it adds to the token's policies; null when gone. */
  view(entityId: string): Promise<EntityView | null> {
    return this.store.view(entityId);
  }
}
