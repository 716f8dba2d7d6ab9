/**
 * The AppRole auth method: a role has a public role ID and issues secret IDs; a machine logs in
 * with both. Layout in the mount's storage (role names in the canonical form of names.ts: lower-cased):
 *
 *     salt                                  HMAC key for the indexes below
 *     role/<name>                           the role
 *     role_id/<hmac(role_id)>               → role name
 *     secret_id/<hmac(name)>/<hmac(id)>     a secret ID (never stored in clear)
 *     accessor/<hmac(accessor)>             → the secret ID's hmac
 */
import { addressInBlocks, blockWithin, parseCidrList } from "../../sdk/cidr.js";
import { decodeJson, encodeJson, randomUuid, toHex } from "../../sdk/encoding.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { isPlainObject, parseCount, parseFlag, parseNonNegativeDuration, trimTrailingSlashes } from "../../sdk/fields.js";
import { canonicalName, requireCanonicalName } from "../../sdk/names.js";
import { type HandlerResult, LogicalError, type MountEntry, type Storage } from "../../sdk/types.js";
import { InvalidCredentials } from "../../sdk/auth.js";
import { noRoute, unsupportedAuthOperation } from "../../sdk/auth.js";
import { cidrList, defaultTokenSettings, type TokenSettings, updateTokenSettings } from "../../sdk/token-settings.js";
import type { AuthMethod, AuthRequest, LoginGrant } from "../../sdk/auth.js";

interface RoleEntry extends TokenSettings {
  role_id: string;
  bind_secret_id: boolean;
  secret_id_bound_cidrs: string[];
  secret_id_num_uses: number;
  /** Seconds; 0 = secret IDs never expire. */
  secret_id_ttl: number;
  local_secret_ids: boolean;
}

interface SecretIdEntry {
  secret_id_accessor: string;
  /** Remaining uses; 0 = unlimited. */
  secret_id_num_uses: number;
  secret_id_ttl: number;
  /** Epoch ms. */
  creation_time: number;
  /** Epoch ms; 0 = never. */
  expiration_time: number;
  last_updated_time: number;
  metadata: Record<string, string>;
  cidr_list: string[];
  token_bound_cidrs: string[];
}

const INVALID_CREDENTIALS = "invalid role or secret ID";
const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

const ROLE_NAME = "role_name";

export const approle: AuthMethod = {
  /** `role/<name>...` with the name canonical and no trailing "/" (which would dodge a policy on the exact path). */
  canonicalPath(path) {
    const match = /^role\/([^/]*)(\/.*)?$/.exec(path);
    if (!match || (match[1] === "" && match[2] === undefined)) return path;
    return `role/${canonicalName(match[1]!, ROLE_NAME)}${trimTrailingSlashes(match[2] ?? "")}`;
  },

  isLoginPath: (path) => path === "login",

  // As in Vault, an AppRole login is locked out by role ID; only a wrong secret ID for a known role counts.
  lockoutAlias: ({ data }) => (typeof data.role_id === "string" && data.role_id.trim() !== "" ? data.role_id.trim() : null),

  async exists(request) {
    const match = /^role\/([^/]+)$/.exec(request.path);
    return match ? (await request.storage.get(`role/${requireCanonicalName(match[1]!, ROLE_NAME)}`)) !== null : null;
  },

  async login(request): Promise<LoginGrant> {
    const { data, storage, now, clientAddress } = request;
    const roleId = typeof data.role_id === "string" ? data.role_id.trim() : "";
    if (!roleId) throw new LogicalError(400, "missing role_id");
    const keys = await Indexes.open(storage);
    const nameBytes = await storage.get(`role_id/${await keys.hmac(roleId)}`);
    const name = nameBytes ? new TextDecoder().decode(nameBytes) : "";
    const role = name ? await readRole(storage, name) : null;
    if (!role || role.role_id !== roleId) throw new LogicalError(400, INVALID_CREDENTIALS);

    // Before the secret ID is consumed: a login from the wrong address must not spend one of its uses.
    if (role.secret_id_bound_cidrs.length > 0 && !addressInBlocks(clientAddress, parseCidrList(role.secret_id_bound_cidrs, "secret_id_bound_cidrs"))) {
      throw new LogicalError(400, `source address "${clientAddress ?? ""}" unauthorized by CIDR restrictions on the role`);
    }
    let metadata: Record<string, string> = {};
    let tokenBoundCidrs = role.token_bound_cidrs;
    if (role.bind_secret_id) {
      const secretId = typeof data.secret_id === "string" ? data.secret_id.trim() : "";
      if (!secretId) throw new LogicalError(400, "missing secret_id");
      const key = await keys.secretIdKey(name, secretId);
      const entry = await secretIdLocks.run(secretIdLockKey(request.mount, key), () => consumeSecretId(storage, keys, key, now, clientAddress));
      metadata = { ...entry.metadata };
      if (entry.token_bound_cidrs.length > 0) tokenBoundCidrs = entry.token_bound_cidrs;
    }
    return {
      settings: { ...tokenSettingsOf(role), token_bound_cidrs: tokenBoundCidrs },
      metadata: { ...metadata, role_name: name },
      displayName: "",
      alias: { name: roleId, metadata: { role_name: name } },
    };
  },

  async handle(request): Promise<HandlerResult> {
    const { operation, path, storage } = request;
    if (path === "role" || path === "role/") {
      if (operation !== "list") throw unsupportedAuthOperation(request);
      return { data: { keys: (await storage.list("role/")).filter((key) => !key.endsWith("/")) } };
    }
    const match =
      /^role\/([^/]+)(?:\/(role-id|secret-id|custom-secret-id|secret-id\/lookup|secret-id\/destroy|secret-id-accessor\/lookup|secret-id-accessor\/destroy))?$/.exec(
        path,
      );
    if (!match) throw noRoute(request);
    const name = requireCanonicalName(match[1]!, ROLE_NAME);
    const action = match[2];
    if (!action) return handleRole(request, name);

    const role = await readRole(storage, name);
    if (!role) throw new LogicalError(400, `role "${name}" does not exist`);
    const keys = await Indexes.open(storage);
    const write = operation === "update" || operation === "create";
    switch (action) {
      case "role-id":
        if (operation === "read") return { data: { role_id: role.role_id } };
        if (!write) throw unsupportedAuthOperation(request);
        await saveRole(storage, keys, name, { ...role, role_id: requireString(request.data, "role_id") }, role.role_id);
        return null;
      case "secret-id":
        if (operation === "list") return { data: { keys: await listAccessors(storage, keys, name) } };
        if (!write) throw unsupportedAuthOperation(request);
        return generateSecretId(request, keys, name, role);
      case "custom-secret-id":
        if (!write) throw unsupportedAuthOperation(request);
        return generateSecretId(request, keys, name, role, requireString(request.data, "secret_id"));
      case "secret-id/lookup":
      case "secret-id/destroy": {
        if (!write && !(action.endsWith("destroy") && operation === "delete")) throw unsupportedAuthOperation(request);
        const key = await keys.secretIdKey(name, requireString(request.data, "secret_id"));
        const entry = await readSecretId(storage, key);
        if (!entry) return null;
        if (action === "secret-id/lookup") return { data: describeSecretId(entry) };
        await secretIdLocks.run(secretIdLockKey(request.mount, key), () => destroySecretId(storage, keys, key, entry));
        return null;
      }
      default: {
        if (!write && !(action.endsWith("destroy") && operation === "delete")) throw unsupportedAuthOperation(request);
        const accessor = requireString(request.data, "secret_id_accessor");
        const keyBytes = await storage.get(`accessor/${await keys.hmac(accessor)}`);
        const key = keyBytes ? new TextDecoder().decode(keyBytes) : "";
        const entry = key.startsWith(`secret_id/${await keys.hmac(name)}/`) ? await readSecretId(storage, key) : null;
        if (!entry) throw new LogicalError(400, `failed to find accessor entry for secret_id_accessor: "${accessor}"`);
        if (action === "secret-id-accessor/lookup") return { data: describeSecretId(entry) };
        await secretIdLocks.run(secretIdLockKey(request.mount, key), () => destroySecretId(storage, keys, key, entry));
        return null;
      }
    }
  },
};

/**
 * Serialises logins with the same secret ID so that each use is spent once. In-process is enough:
 * only the active node serves logins, and its storage writes are fenced by the HA lock epoch.
 */
const secretIdLocks = new KeyedLock();

/** Secret-ID keys are per mount: the mount's UUID keeps two mounts' keys apart. */
function secretIdLockKey(mount: MountEntry, key: string): string {
  return `${mount.uuid}/${key}`;
}

/**
 * Checks a secret ID (still there, not expired, used from an allowed address) and spends one of its
 * uses; the caller holds its lock, so the entry read here is the latest.
 */
async function consumeSecretId(storage: Storage, keys: Indexes, key: string, now: number, clientAddress: string | undefined): Promise<SecretIdEntry> {
  const entry = await readSecretId(storage, key);
  // A wrong secret ID for an existing role counts towards the role's lockout.
  if (!entry) throw new InvalidCredentials(INVALID_CREDENTIALS);
  if (entry.expiration_time !== 0 && entry.expiration_time <= now) {
    await destroySecretId(storage, keys, key, entry);
    throw new LogicalError(400, INVALID_CREDENTIALS);
  }
  if (entry.cidr_list.length > 0 && !addressInBlocks(clientAddress, parseCidrList(entry.cidr_list, "cidr_list"))) {
    throw new LogicalError(400, `source address "${clientAddress ?? ""}" unauthorized through CIDR restrictions on the secret ID`);
  }
  if (entry.secret_id_num_uses === 1) await destroySecretId(storage, keys, key, entry);
  else if (entry.secret_id_num_uses > 1)
    await storage.put(key, encodeJson({ ...entry, secret_id_num_uses: entry.secret_id_num_uses - 1, last_updated_time: now }));
  return entry;
}

async function handleRole(request: AuthRequest, name: string): Promise<HandlerResult> {
  const { operation, data, storage } = request;
  const role = await readRole(storage, name);
  switch (operation) {
    case "read": {
      if (!role) throw new LogicalError(404, "");
      const { role_id: _, ...shown } = role;
      return { data: { ...shown } };
    }
    case "create":
    case "update": {
      const keys = await Indexes.open(storage);
      const settings = updateTokenSettings(role ? tokenSettingsOf(role) : defaultTokenSettings(), data);
      const boundCidrs = data.secret_id_bound_cidrs ?? data.bound_cidr_list;
      const updated: RoleEntry = {
        ...settings,
        role_id: typeof data.role_id === "string" && data.role_id !== "" ? data.role_id : (role?.role_id ?? randomUuid()),
        bind_secret_id: parseFlag("bind_secret_id", data.bind_secret_id) ?? role?.bind_secret_id ?? true,
        secret_id_bound_cidrs: boundCidrs === undefined ? (role?.secret_id_bound_cidrs ?? []) : cidrList("secret_id_bound_cidrs", boundCidrs),
        secret_id_num_uses: parseCount("secret_id_num_uses", data.secret_id_num_uses) ?? role?.secret_id_num_uses ?? 0,
        secret_id_ttl: parseNonNegativeDuration("secret_id_ttl", data.secret_id_ttl) ?? role?.secret_id_ttl ?? 0,
        local_secret_ids: role?.local_secret_ids ?? parseFlag("local_secret_ids", data.local_secret_ids) ?? false,
      };
      if (!updated.bind_secret_id && updated.secret_id_bound_cidrs.length === 0 && updated.token_bound_cidrs.length === 0) {
        throw new LogicalError(400, "at least one constraint should be enabled on the role");
      }
      await saveRole(storage, keys, name, updated, role?.role_id);
      return null;
    }
    case "delete": {
      if (!role) return null;
      const keys = await Indexes.open(storage);
      const roleHmac = await keys.hmac(name);
      for (const id of await storage.list(`secret_id/${roleHmac}/`)) {
        const key = `secret_id/${roleHmac}/${id}`;
        const entry = await readSecretId(storage, key);
        if (entry) await destroySecretId(storage, keys, key, entry);
      }
      await storage.delete(`role_id/${await keys.hmac(role.role_id)}`);
      await storage.delete(`role/${name}`);
      return null;
    }
    default:
      throw unsupportedAuthOperation(request);
  }
}

/** A new secret ID for the role: a random one, or `custom` (role/<name>/custom-secret-id) when not already registered. */
async function generateSecretId({ data, storage, now }: AuthRequest, keys: Indexes, name: string, role: RoleEntry, custom?: string): Promise<HandlerResult> {
  const cidrs = cidrList("cidr_list", data.cidr_list);
  requireWithin(cidrs, role.secret_id_bound_cidrs, "cidr_list", "secret_id_bound_cidrs");
  const tokenCidrs = cidrList("token_bound_cidrs", data.token_bound_cidrs);
  requireWithin(tokenCidrs, role.token_bound_cidrs, "token_bound_cidrs", "token_bound_cidrs");
  const numUses = parseCount("num_uses", data.num_uses) ?? role.secret_id_num_uses;
  if (role.secret_id_num_uses > 0 && (numUses === 0 || numUses > role.secret_id_num_uses)) {
    throw new LogicalError(400, "num_uses cannot be higher than the role's secret_id_num_uses");
  }
  const ttl = parseNonNegativeDuration("ttl", data.ttl) || role.secret_id_ttl;
  if (role.secret_id_ttl > 0 && ttl > role.secret_id_ttl) throw new LogicalError(400, "ttl cannot be longer than the role's secret_id_ttl");

  const secretId = custom ?? randomUuid();
  const key = await keys.secretIdKey(name, secretId);
  if (custom !== undefined && (await storage.get(key))) throw new LogicalError(400, "SecretID is already registered");
  const entry: SecretIdEntry = {
    secret_id_accessor: randomUuid(),
    secret_id_num_uses: numUses,
    secret_id_ttl: ttl,
    creation_time: now,
    expiration_time: ttl > 0 ? now + ttl * 1000 : 0,
    last_updated_time: now,
    metadata: secretIdMetadata(data.metadata),
    cidr_list: cidrs,
    token_bound_cidrs: tokenCidrs,
  };
  await storage.put(key, encodeJson(entry));
  await storage.put(`accessor/${await keys.hmac(entry.secret_id_accessor)}`, new TextEncoder().encode(key));
  return { data: { secret_id: secretId, secret_id_accessor: entry.secret_id_accessor, secret_id_ttl: ttl, secret_id_num_uses: numUses } };
}

/** HMACs under the mount's salt, so storage never holds a usable role ID, secret ID or accessor. */
class Indexes {
  private constructor(readonly key: CryptoKey) {}

  static async open(storage: Storage): Promise<Indexes> {
    let salt = await storage.get("salt");
    if (!salt) {
      salt = crypto.getRandomValues(new Uint8Array(32));
      await storage.put("salt", salt);
    }
    return new Indexes(await crypto.subtle.importKey("raw", new Uint8Array(salt), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
  }

  async hmac(value: string): Promise<string> {
    return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", this.key, new TextEncoder().encode(value))));
  }

  async secretIdKey(roleName: string, secretId: string): Promise<string> {
    return `secret_id/${await this.hmac(roleName)}/${await this.hmac(secretId)}`;
  }
}

async function readRole(storage: Storage, name: string): Promise<RoleEntry | null> {
  const bytes = await storage.get(`role/${name}`);
  return bytes ? decodeJson<RoleEntry>(bytes) : null;
}

/** Writes the role and moves its role-ID index when the ID changed; role IDs are unique per mount. */
async function saveRole(storage: Storage, keys: Indexes, name: string, role: RoleEntry, previousRoleId: string | undefined): Promise<void> {
  const indexKey = `role_id/${await keys.hmac(role.role_id)}`;
  const owner = await storage.get(indexKey);
  if (owner && new TextDecoder().decode(owner) !== name) throw new LogicalError(400, "role_id already in use");
  await storage.put(`role/${name}`, encodeJson(role));
  await storage.put(indexKey, new TextEncoder().encode(name));
  if (previousRoleId !== undefined && previousRoleId !== role.role_id) await storage.delete(`role_id/${await keys.hmac(previousRoleId)}`);
}

async function readSecretId(storage: Storage, key: string): Promise<SecretIdEntry | null> {
  const bytes = await storage.get(key);
  return bytes ? decodeJson<SecretIdEntry>(bytes) : null;
}

async function destroySecretId(storage: Storage, keys: Indexes, key: string, entry: SecretIdEntry): Promise<void> {
  await storage.delete(`accessor/${await keys.hmac(entry.secret_id_accessor)}`);
  await storage.delete(key);
}

async function listAccessors(storage: Storage, keys: Indexes, name: string): Promise<string[]> {
  const prefix = `secret_id/${await keys.hmac(name)}/`;
  const accessors: string[] = [];
  for (const id of await storage.list(prefix)) {
    const entry = await readSecretId(storage, prefix + id);
    if (entry) accessors.push(entry.secret_id_accessor);
  }
  return accessors.sort();
}

function describeSecretId(entry: SecretIdEntry): Record<string, unknown> {
  const time = (ms: number) => (ms === 0 ? GO_ZERO_TIME : new Date(ms).toISOString());
  return {
    cidr_list: entry.cidr_list,
    creation_time: time(entry.creation_time),
    expiration_time: time(entry.expiration_time),
    last_updated_time: time(entry.last_updated_time),
    metadata: entry.metadata,
    secret_id_accessor: entry.secret_id_accessor,
    secret_id_num_uses: entry.secret_id_num_uses,
    secret_id_ttl: entry.secret_id_ttl,
    token_bound_cidrs: entry.token_bound_cidrs,
  };
}

function tokenSettingsOf(role: RoleEntry): TokenSettings {
  const { role_id: _r, bind_secret_id: _b, secret_id_bound_cidrs: _c, secret_id_num_uses: _n, secret_id_ttl: _t, local_secret_ids: _l, ...settings } = role;
  return settings;
}

/** Secret-ID metadata: a JSON object of strings, or (as Vault's API takes it) that object as JSON text. */
function secretIdMetadata(value: unknown): Record<string, string> {
  if (value === undefined || value === null || value === "") return {};
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new LogicalError(400, `"metadata" must be a JSON object of strings`);
    }
  }
  if (!isPlainObject(parsed) || Object.values(parsed).some((v) => typeof v !== "string"))
    throw new LogicalError(400, `"metadata" must be a JSON object of strings`);
  return parsed as Record<string, string>;
}

function requireWithin(cidrs: string[], allowed: string[], field: string, roleField: string): void {
  if (allowed.length === 0) return;
  const outer = parseCidrList(allowed, roleField);
  for (const block of parseCidrList(cidrs, field)) {
    if (!outer.some((o) => blockWithin(block, o))) throw new LogicalError(400, `"${field}" entry ${block.text} is not within the role's "${roleField}"`);
  }
}

function requireString(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value !== "string" || value.trim() === "") throw new LogicalError(400, `missing ${field}`);
  return value.trim();
}
