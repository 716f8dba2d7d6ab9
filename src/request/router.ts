import { type Acl, authorise, invalidToken } from "../logical/acl.js";
import { issueLoginToken } from "../logical/auth/auth-routes.js";
import type { MountedAuth } from "../logical/auth/auth-table.js";
import { canonicalRequestPath } from "../logical/canonical-path.js";
import { addressInBlocks, parseCidrList } from "../sdk/cidr.js";
import type { LogicalState } from "../logical/state.js";
import type { NodeState } from "../audit/node-state.js";
import type { TokenEntry } from "../logical/token-store.js";
import { type CoreRequest, type HandlerResult, LogicalError, noHandler, type Operation, permissionDenied, unsupportedOperation } from "../sdk/types.js";
import { StandbyError } from "../ha/standby-error.js";
import type { StandbyRouterFactory } from "../ha/standby-reads.js";
import { standbyMayAnswer } from "../sdk/framework.js";
import type { KeyRotation } from "../barrier/key-rotation.js";
import { AuditBroker } from "../audit/broker.js";
import { silentLogger } from "../sdk/logger.js";
import { InvalidCredentials } from "../sdk/auth.js";
import { LockedOut } from "../logical/auth/lockout.js";
import { mountLabel } from "../metrics/labels.js";
import { type Metrics, noMetrics } from "../metrics/metrics.js";
import { AuditTrail } from "../audit/trail.js";
import { UI_MOUNTS_PREFIX } from "./sys-mounts.js";
import { CUBBYHOLE_MOUNT_PATH } from "../logical/cubbyhole.js";
import { IDENTITY_MOUNT_PATH } from "../logical/identity/identity.js";
import { identityTemplating, withIdentityPolicies } from "../logical/identity/request-identity.js";
import { requestedWrapTtl, wrapResponse } from "../logical/wrapping.js";
import { beforeAuthentication, isUnauthenticatedWrapping } from "./sys-wrapping.js";
import { declaredFlags, METRICS_PATH, SYS_ENDPOINTS, type SysNode } from "./sys-endpoints.js";

/** What the router needs from the node: its state, its role, and the node-level operations. */
export interface RouterNode {
  /** The unsealed state; throws 503 when sealed. */
  state(): NodeState;
  isActive(): boolean;
  /** On a standby, the state its own sys/metrics is authorised from: storage as it is now, not as it was at unseal. */
  standbyState?(): Promise<NodeState>;
  now(): number;
  seal(): Promise<void>;
  stepDown(): Promise<void>;
  /** sys/ha-status's node list. */
  haStatus(): Record<string, unknown>[];
  /** The barrier's active term: sys/key-status, sys/rotate, and the encryption count. */
  keys: Pick<KeyRotation, "countEncryptions" | "rotate" | "status">;
  /** The PGP-encrypted key shares a rekey kept (sys/rekey/backup, sys/rekey-recovery-key/backup). */
  rekeyBackups: SysNode["rekeyBackups"];
  /** Audit devices and metrics, as the runtime adapter provides them; none by default. */
  observability?: Observability;
}

export interface Observability {
  /** Writes every request's audit entries to the enabled devices (sinks come from the adapter). */
  audit?: AuditBroker;
  /** Request latency by operation and mount, login failures and lockouts. */
  metrics?: Metrics;
}

export { METRICS_PATH };

type CallerToken = TokenEntry & { hash: string };

/** Routers for a standby's own reads: serving as if active, with every node-level operation refused. */
export function standbyRouter(now: () => number, observability: Observability): StandbyRouterFactory {
  return (state, refuse) => {
    // Nothing is encrypted here, so there is nothing to count (and the count is the active's to persist).
    const keys = { countEncryptions: async () => {}, rotate: refuse, status: refuse };
    const backups = { backup: refuse, deleteBackup: refuse };
    const rekeyBackups = { rekey: backups, "rekey-recovery-key": backups };
    return new Router({ state: () => state, isActive: () => true, now, seal: refuse, stepDown: refuse, haStatus: () => [], keys, rekeyBackups, observability });
  };
}

/**
 * The one place where a request becomes a response: a login goes straight to its auth method;
 * anything else needs a live token whose policies (their union, by Vault's ACL rules) allow the
 * request, then goes to the token store, a sys handler or the mount that serves the path.
 */
export class Router {
  readonly #audit: AuditBroker;
  readonly #metrics: Metrics;

  constructor(private readonly node: RouterNode) {
    this.#metrics = node.observability?.metrics ?? noMetrics;
    this.#audit = node.observability?.audit ?? new AuditBroker({}, silentLogger, this.#metrics);
  }

  async handle(rawRequest: CoreRequest): Promise<HandlerResult> {
    let state = this.node.state();
    // sys/metrics describes this node: a standby answers it itself, authorised from current policies and tokens.
    if (!this.node.isActive()) {
      if (rawRequest.path !== METRICS_PATH) throw new StandbyError();
      state = (await this.node.standbyState?.()) ?? state;
    }
    // Names are judged by the ACL as they will be stored: `users/ADMIN` is `users/admin`.
    const request = { ...rawRequest, path: canonicalRequestPath(state.auths, rawRequest.path) };
    const wrapTtl = requestedWrapTtl(request.path, request.wrapTtl);
    // Audit: a request entry once the caller is authorised (before anything is done), a response entry after.
    const audit = new AuditTrail(this.#audit, state, request);
    const started = performance.now();
    try {
      const result = emptyListIsNotFound(request.operation, await this.#handleAudited(state, request, audit));
      const answer = wrapTtl && result && !result.wrap_info ? await wrapResponse(state, result, wrapTtl, request.path) : result;
      await audit.afterOperation(answer);
      return answer;
    } catch (error) {
      if (!(error instanceof StandbyError)) await audit.failed(error);
      throw error;
    } finally {
      this.#metrics.observeMs("vault_core_handle_request", performance.now() - started, {
        operation: request.operation,
        mount: mountLabel(state, request.path),
      });
    }
  }

  /** Whether a standby's read router may answer `request` (see RequestHandler). */
  standbyMayAnswer(request: Pick<CoreRequest, "operation" | "path">): boolean {
    const state = this.node.state();
    return standbyMayAnswer(declaredFlags(state, canonicalRequestPath(state.auths, request.path)), request.operation);
  }

  /** A request served without a token (sys/rekey/*, sys/generate-root/*): a request entry before `serve`, a response entry after. */
  async audited(request: CoreRequest, serve: () => Promise<HandlerResult>): Promise<HandlerResult> {
    const audit = new AuditTrail(this.#audit, this.node.state(), request);
    try {
      await audit.beforeOperation();
      const result = await serve();
      await audit.afterOperation(result);
      return result;
    } catch (error) {
      await audit.failed(error);
      throw error;
    }
  }

  async #handleAudited(state: NodeState, request: CoreRequest, audit: AuditTrail): Promise<HandlerResult> {
    if (isUnauthenticatedWrapping(request.path)) await takeBody(request);
    const unauthenticated = beforeAuthentication(state, request);
    if (unauthenticated) {
      await audit.beforeOperation();
      return unauthenticated();
    }
    const login = loginRoute(state, request.path);
    if (login) {
      await takeBody(request);
      await audit.beforeOperation();
      return this.#login(state, login, request);
    }
    const flags = declaredFlags(state, request.path);
    if (flags.unauthenticated) {
      await takeBody(request);
      await audit.beforeOperation();
      return this.#dispatchToMount(state, request);
    }
    if (!request.token) throw permissionDenied();
    const caller = await state.tokens.lookup(request.token);
    if (!caller) throw invalidToken();
    audit.identify(caller);
    // Non-expiring tokens (root) are exempt from address binding, as in Vault.
    if (caller.bound_cidrs && caller.expire_time !== null && !addressInBlocks(request.clientAddress, parseCidrList(caller.bound_cidrs, "bound_cidrs"))) {
      throw permissionDenied();
    }
    // A standby answering sys/metrics must not write: counting a limited-use token's use is the active's job.
    if (caller.num_uses !== 0 && !this.node.isActive())
      throw new LogicalError(400, "a token with limited uses cannot be used on a standby node; use another token or ask the active node");
    // Policies of the entity's groups apply at once, to tokens already issued; a disabled entity's tokens do nothing.
    const identity = caller.entity_id ? await state.identity.view(caller.entity_id) : null;
    if (identity?.entity.disabled) throw permissionDenied();
    await takeBody(request);
    // The use counts even when the request is then denied; the last use revokes the token afterwards.
    const exhausted = await state.tokens.use(caller);
    try {
      const acl = await state.policies.acl(withIdentityPolicies(caller.policies, identity), identityTemplating(identity));
      await this.#authorise(state, acl, request, caller, flags.sudo === true);
      await audit.beforeOperation();
      return await this.#dispatch(state, request, caller, acl);
    } finally {
      if (exhausted) await state.tokens.revoke(caller);
      if (request.operation !== "read" && request.operation !== "list") await this.#countEncryptions();
    }
  }

  async #countEncryptions(): Promise<void> {
    try {
      await this.node.keys.countEncryptions();
    } catch {
      // An estimate: the count stays in memory and is persisted with a later write.
    }
  }

  async #login(state: LogicalState, { mounted, relative }: { mounted: MountedAuth; relative: string }, request: CoreRequest): Promise<HandlerResult> {
    const { operation, data, clientAddress, clientCertificates } = request;
    // A GET login only where the method declares one (the OIDC callback the browser is sent back to).
    const readable = operation === "read" && mounted.method.loginTakesRead?.(relative) === true;
    if (operation !== "update" && operation !== "create" && !readable) throw unsupportedOperation(request.path, operation);
    let grant;
    try {
      grant = await mounted.method.login({
        operation,
        path: relative,
        data,
        storage: mounted.storage,
        mount: mounted.entry,
        now: this.node.now(),
        clientAddress,
        clientCertificates,
      });
    } catch (error) {
      const mount = `auth/${mounted.entry.path}`;
      if (error instanceof InvalidCredentials) this.#metrics.increment("strongbox_login_failures_total", { mount });
      if (error instanceof LockedOut) this.#metrics.increment("strongbox_login_lockouts_total", { mount });
      throw error;
    }
    return issueLoginToken(state, mounted.entry, relative, grant, this.node.now());
  }

  async #authorise(state: LogicalState, acl: Acl, request: CoreRequest, caller: CallerToken, sudo: boolean): Promise<void> {
    const { mounts, auths, cubbyhole } = state;
    const { path, operation, data } = request;
    if (path.startsWith(UI_MOUNTS_PREFIX)) {
      // Any token may ask which mount serves a path, but only about a mount it has some access under.
      const route = mounts.route(path.slice(UI_MOUNTS_PREFIX.length));
      if (route && !acl.hasAccessUnder(route.mounted.entry.path)) throw permissionDenied();
      return;
    }
    const exists = async (): Promise<boolean | null> => {
      if (path.startsWith(CUBBYHOLE_MOUNT_PATH)) return cubbyhole.exists(caller.hash, path.slice(CUBBYHOLE_MOUNT_PATH.length));
      if (path.startsWith("auth/")) {
        const route = auths.route(path.slice("auth/".length));
        if (!route) return null;
        const { mounted, relative } = route;
        return mounted.method.exists({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry, now: this.node.now() });
      }
      const route = path.startsWith("sys/") ? null : mounts.route(path);
      if (!route) return null;
      const { mounted, relative } = route;
      return (await mounted.engine.exists?.({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry })) ?? null;
    };
    await authorise(acl, { path, operation, exists, sudo });
  }

  async #dispatch(state: NodeState, request: CoreRequest, caller: CallerToken, acl: Acl): Promise<HandlerResult> {
    const { path, operation, data } = request;
    if (path.startsWith("sys/") || path.startsWith("auth/token/")) {
      return SYS_ENDPOINTS.handle({ ...request, state, caller, sudo: acl.hasSudo(path), node: this.node, audit: this.#audit, now: this.node.now() }, path);
    }
    if (`${path}/`.startsWith(CUBBYHOLE_MOUNT_PATH)) {
      const result = await state.cubbyhole.handle(caller.hash, { operation, path: path.slice(CUBBYHOLE_MOUNT_PATH.length), data });
      return result && { ...result, mount_type: "cubbyhole" };
    }
    return this.#dispatchToMount(state, request, caller.entity_id);
  }

  /**
   * Identity's, an auth method's or a secrets engine's endpoint: for a caller (acting for `entityId`),
   * or for nobody when the endpoint needs no token (a CA certificate, OIDC discovery).
   */
  async #dispatchToMount({ mounts, auths, identity }: LogicalState, request: CoreRequest, entityId?: string): Promise<HandlerResult> {
    const { path, operation, data } = request;
    if (`${path}/`.startsWith(IDENTITY_MOUNT_PATH)) {
      return identity.handle({ operation, path: path.slice(IDENTITY_MOUNT_PATH.length), data, now: this.node.now(), entityId });
    }
    if (path.startsWith("auth/")) {
      const route = auths.route(path.slice("auth/".length));
      if (!route) throw noHandler(path);
      const { mounted, relative } = route;
      const now = this.node.now();
      return mounted.method.handle({
        operation,
        path: relative,
        data,
        storage: mounted.storage,
        mount: mounted.entry,
        now,
        clientAddress: request.clientAddress,
      });
    }
    const route = mounts.route(path);
    if (!route) throw noHandler(path);
    const { mounted, relative } = route;
    const result = await mounted.engine.handle({ operation, path: relative, data, storage: mounted.storage, mount: mounted.entry });
    return result && { ...result, mount_type: mounted.entry.type };
  }
}

/** The router's entry points, each counted by `inFlight`, so a departing active waits for the requests inside. */
export type RequestEntry = Pick<Router, "handle" | "audited">;

export function trackedEntry(router: Router, inFlight: { track<T>(work: () => Promise<T>): Promise<T> }): RequestEntry {
  return {
    handle: (request) => inFlight.track(() => router.handle(request)),
    audited: (request, serve) => inFlight.track(() => router.audited(request, serve)),
  };
}

/** Reads the request's body into `data`, once. */
async function takeBody(request: CoreRequest): Promise<void> {
  const { body } = request;
  if (!body) return;
  request.body = undefined;
  request.data = await body();
}

/** The auth method and path of a login request (e.g. auth/userpass/login/alice), or null. */
function loginRoute({ auths }: LogicalState, path: string): { mounted: MountedAuth; relative: string } | null {
  if (!path.startsWith("auth/") || path.startsWith("auth/token/")) return null;
  const route = auths.route(path.slice("auth/".length));
  return route && route.mounted.method.isLoginPath(route.relative) ? route : null;
}

/** Vault answers a LIST that found nothing with 404 and `{"errors":[]}`, whichever endpoint served it. */
function emptyListIsNotFound(operation: Operation, result: HandlerResult): HandlerResult {
  const keys = result?.data?.keys;
  if (operation === "list" && (keys === undefined || (Array.isArray(keys) && keys.length === 0))) throw new LogicalError(404, "");
  return result;
}
