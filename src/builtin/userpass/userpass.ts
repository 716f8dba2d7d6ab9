/**
 * The userpass auth method: users with a password and token settings, kept in the mount's storage
 * at `user/<name>` (names in the canonical form of names.ts: lower-cased, as Vault does), passwords
 * as PBKDF2 hashes.
 */
import { permissionDenied } from "../../sdk/types.js";
import { addressInBlocks, parseCidrList } from "../../sdk/cidr.js";
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { canonicalName, requireCanonicalName } from "../../sdk/names.js";
import { type HandlerResult, LogicalError } from "../../sdk/types.js";
import { InvalidCredentials } from "../../sdk/auth.js";
import { hashPassword, type PasswordHash, verifyPassword } from "./password.js";
import { noRoute, unsupportedAuthOperation } from "../../sdk/auth.js";
import { defaultTokenSettings, type TokenSettings, updateTokenSettings } from "../../sdk/token-settings.js";
import type { AuthMethod, AuthRequest, LoginGrant } from "../../sdk/auth.js";

interface UserEntry extends TokenSettings {
  password_hash: PasswordHash;
}

const USER_PREFIX = "user/";
const USERNAME = "username";

/** Verified against when the user does not exist, so a login takes as long either way. */
let decoyHash: Promise<PasswordHash> | undefined;

/** `users/<name>...` and `login/<name>`: the segment after the first is a username. */
const NAMED_PATH = /^(users|login)\/([^/]*)(\/.*)?$/;

export const userpass: AuthMethod = {
  canonicalPath(path) {
    const match = NAMED_PATH.exec(path);
    if (!match || (match[1] === "users" && match[2] === "" && match[3] === undefined)) return path;
    return `${match[1]}/${canonicalName(match[2]!, USERNAME)}${match[3] ?? ""}`;
  },

  isLoginPath: (path) => path.startsWith("login/"),

  lockoutAlias: ({ path }) => canonicalName(path.slice("login/".length), USERNAME),

  async exists({ path, storage }) {
    const match = /^users\/([^/]+)$/.exec(path);
    return match ? (await storage.get(USER_PREFIX + requireCanonicalName(match[1]!, USERNAME))) !== null : null;
  },

  async login({ path, data, storage, clientAddress }): Promise<LoginGrant> {
    // Logins are not ACL-checked, so any case may log in (as in Vault); the name is still validated.
    const name = canonicalName(path.slice("login/".length), USERNAME);
    if (typeof data.password !== "string" || data.password === "") throw new LogicalError(400, "missing password");
    const user = await readUser(storage, name);
    const valid = await verifyPassword(data.password, user?.password_hash ?? (await (decoyHash ??= hashPassword(""))));
    if (!user || !valid) throw new InvalidCredentials("invalid username or password");
    if (user.token_bound_cidrs.length > 0 && !addressInBlocks(clientAddress, parseCidrList(user.token_bound_cidrs, "token_bound_cidrs"))) {
      throw permissionDenied();
    }
    const { password_hash: _, ...settings } = user;
    return { settings, metadata: { username: name }, displayName: name, alias: { name } };
  },

  async handle(request): Promise<HandlerResult> {
    const { operation, path, data, storage } = request;
    if (path === "users" || path === "users/") {
      if (operation !== "list") throw unsupportedAuthOperation(request);
      return { data: { keys: (await storage.list(USER_PREFIX)).filter((key) => !key.endsWith("/")) } };
    }
    const match = /^users\/([^/]+)(?:\/(password|policies))?$/.exec(path);
    if (!match) throw noRoute(request);
    const name = requireCanonicalName(match[1]!, USERNAME);
    const action = match[2];
    const user = await readUser(storage, name);

    if (action) {
      if (operation !== "update" && operation !== "create") throw unsupportedAuthOperation(request);
      if (!user) throw new LogicalError(400, "username does not exist");
      const updated =
        action === "password"
          ? { ...user, password_hash: await hashPassword(requirePassword(data)) }
          : { ...user, ...updateTokenSettings(user, { token_policies: data.token_policies ?? data.policies ?? [] }) };
      await storage.put(USER_PREFIX + name, encodeJson(updated));
      return null;
    }

    switch (operation) {
      case "read": {
        if (!user) throw new LogicalError(404, "");
        const { password_hash: _, ...settings } = user;
        return { data: { ...settings } };
      }
      case "create":
      case "update": {
        const settings = updateTokenSettings(user ?? defaultTokenSettings(), data, true);
        const passwordGiven = data.password !== undefined && data.password !== "";
        if (!user && !passwordGiven) throw new LogicalError(400, "missing password");
        const password_hash = passwordGiven ? await hashPassword(requirePassword(data)) : user!.password_hash;
        await storage.put(USER_PREFIX + name, encodeJson({ ...settings, password_hash } satisfies UserEntry));
        return null;
      }
      case "delete":
        await storage.delete(USER_PREFIX + name);
        return null;
      default:
        throw unsupportedAuthOperation(request);
    }
  },
};

async function readUser(storage: AuthRequest["storage"], name: string): Promise<UserEntry | null> {
  const bytes = await storage.get(USER_PREFIX + name);
  return bytes ? decodeJson<UserEntry>(bytes) : null;
}

function requirePassword(data: Record<string, unknown>): string {
  if (typeof data.password !== "string" || data.password === "") throw new LogicalError(400, "missing password");
  return data.password;
}
