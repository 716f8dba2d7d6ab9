/**
 * The JWT/OIDC auth method (Vault's `auth/jwt`, mounted as type `jwt` or `oidc`): a client logs in
 * with a signed JWT and a role; the token's signature is checked against the mount's keys
 * (config.ts, keys.ts), its registered claims with the role's leeways (sdk/jws.ts), then the
 * role's bound claims, and the issued token carries the role's token settings and the claims the
 * role maps to metadata. Mount storage: `config`, `role/<name>` (names lower-cased, see names.ts).
 * The OIDC browser flow (`oidc/auth_url`, `oidc/callback`) is not built: those paths say so.
 */
import { addressInBlocks, parseCidrList } from "../../sdk/cidr.js";
import { authMethod, type AuthRequest, type LoginGrant } from "../../sdk/auth.js";
import { trimTrailingSlashes } from "../../sdk/fields.js";
import { audiences, checkClaims, SIGNING_ALGORITHMS, TokenInvalid, verifiedClaims } from "../../sdk/jws.js";
import { VAULT_LEASE_TTLS } from "../../sdk/lease-ttls.js";
import { canonicalName, requireCanonicalName } from "../../sdk/names.js";
import { listResponse, notFound } from "../../sdk/responses.js";
import { LogicalError, permissionDenied } from "../../sdk/types.js";
import { checkBoundClaims, getClaim, groupNames, mappedMetadata } from "./claims.js";
import { describeConfig, readConfig, writeConfig } from "./config.js";
import { verificationKeys } from "./keys.js";
import { deleteRole, describeRole, listRoles, readRole, tokenSettingsOf, writeRole } from "./role.js";

const ROLE_NAME = "role name";

export const jwt = authMethod({
  canonicalPath(path) {
    const match = /^role\/([^/]+)(\/.*)?$/.exec(path);
    return match ? `role/${canonicalName(match[1]!, ROLE_NAME)}${trimTrailingSlashes(match[2] ?? "")}` : path;
  },
  endpoints: [
    {
      pattern: "config",
      operations: {
        read: async ({ storage }) => {
          const config = await readConfig(storage);
          if (!config) throw notFound();
          return { data: describeConfig(config) };
        },
        update: async ({ storage, data }) => {
          await writeConfig(storage, data);
          return null;
        },
      },
    },
    // LIST auth/<mount>/role, with or without the trailing slash.
    { pattern: "role", operations: { list: listRoleNames } },
    { pattern: "role/", operations: { list: listRoleNames } },
    {
      pattern: "role/:name",
      exists: async ({ storage }, { name }) => (await readRole(storage, requireCanonicalName(name!, ROLE_NAME))) !== null,
      operations: {
        read: async ({ storage }, { name }) => {
          const role = await readRole(storage, requireCanonicalName(name!, ROLE_NAME));
          if (!role) throw notFound();
          return { data: describeRole(role) };
        },
        update: async ({ storage, data, mount }, { name }) => {
          const canonical = requireCanonicalName(name!, ROLE_NAME);
          const maxLeaseTtl = mount.config.max_lease_ttl || VAULT_LEASE_TTLS.maxSeconds;
          const warnings = await writeRole(storage, canonical, await readRole(storage, canonical), data, maxLeaseTtl);
          return warnings.length > 0 ? { warnings } : null;
        },
        delete: async ({ storage }, { name }) => {
          await deleteRole(storage, requireCanonicalName(name!, ROLE_NAME));
          return null;
        },
      },
    },
  ],
  logins: [
    { pattern: "login", operations: { update: login } },
    { pattern: "oidc/auth_url", operations: { update: browserFlowNotBuilt } },
    { pattern: "oidc/callback", operations: { read: browserFlowNotBuilt, update: browserFlowNotBuilt } },
  ],
});

async function listRoleNames({ storage }: AuthRequest) {
  return listResponse(await listRoles(storage));
}

async function browserFlowNotBuilt(): Promise<never> {
  throw new LogicalError(400, 'the OIDC browser flow (role_type "oidc") is not supported by Strongbox: log in with a JWT at auth/<mount>/login');
}

/** Vault's pathLogin: its checks in its order, each refusal with its text and no token. */
async function login(request: AuthRequest): Promise<LoginGrant> {
  const { storage, data, mount, now, clientAddress } = request;
  const config = await readConfig(storage);
  if (!config) throw new LogicalError(400, "could not load configuration");
  const requested = typeof data.role === "string" && data.role !== "" ? data.role : config.default_role;
  if (requested === "") throw new LogicalError(400, "missing role");
  const roleName = canonicalName(requested, ROLE_NAME);
  const role = await readRole(storage, roleName);
  if (!role) throw new LogicalError(400, `role ${JSON.stringify(requested)} could not be found`);
  if (role.role_type === "oidc") throw new LogicalError(400, "role with oidc role_type is not allowed");
  const token = typeof data.jwt === "string" ? data.jwt.trim() : "";
  if (token === "") throw new LogicalError(400, "missing token");
  if (role.token_bound_cidrs.length > 0 && !addressInBlocks(clientAddress, parseCidrList(role.token_bound_cidrs, "token_bound_cidrs"))) {
    throw permissionDenied();
  }

  let claims: Record<string, unknown>;
  try {
    const failure =
      config.jwt_validation_pubkeys.length > 0 ? "no known key successfully validated the token signature" : "failed to verify id token signature";
    claims = await verifiedClaims(token, await verificationKeys(mount.uuid, config, token, now), failure);
    checkClaims(token, claims, {
      issuer: config.bound_issuer,
      subject: role.bound_subject,
      audiences: role.bound_audiences,
      algorithms: config.jwt_supported_algs.length > 0 ? config.jwt_supported_algs : SIGNING_ALGORITHMS,
      expirationLeeway: role.expiration_leeway,
      notBeforeLeeway: role.not_before_leeway,
      clockSkewLeeway: role.clock_skew_leeway,
      now,
    });
  } catch (error) {
    if (error instanceof LogicalError) throw error;
    // A key server that cannot be reached is not the client's fault, but Vault answers it as a failed validation too.
    throw new LogicalError(
      400,
      `error validating token: ${error instanceof TokenInvalid ? error.message : `error verifying token signature: ${(error as Error).message}`}`,
    );
  }
  if (role.bound_audiences.length === 0 && audiences(claims).length > 0) {
    throw new LogicalError(400, "audience claim found in JWT but no audiences bound to the role");
  }

  const { alias, groups } = identity(claims, roleName, role);
  try {
    checkBoundClaims(role.bound_claims, role.bound_claims_type, claims);
  } catch (error) {
    throw new LogicalError(400, `error validating claims: ${(error as Error).message}`);
  }
  return {
    settings: tokenSettingsOf(role),
    metadata: { ...alias.metadata },
    displayName: alias.name,
    alias,
    groupAliases: groups,
  };
}

/** Vault's createIdentity: the user claim names the alias, mapped claims and the role are its metadata. */
function identity(claims: Record<string, unknown>, roleName: string, role: NonNullable<Awaited<ReturnType<typeof readRole>>>) {
  try {
    const userClaim = role.user_claim_json_pointer
      ? getClaim(claims, role.user_claim)
      : Object.hasOwn(claims, role.user_claim)
        ? claims[role.user_claim]
        : undefined;
    if (userClaim === undefined || userClaim === null) throw new Error(`claim ${JSON.stringify(role.user_claim)} not found in token`);
    if (typeof userClaim !== "string") throw new Error(`claim ${JSON.stringify(role.user_claim)} could not be converted to string`);
    const metadata = { ...mappedMetadata(claims, role.claim_mappings), role: roleName };
    const groups = role.groups_claim === "" ? [] : groupNames(claims, role.groups_claim);
    return { alias: { name: userClaim, metadata }, groups };
  } catch (error) {
    throw new LogicalError(400, (error as Error).message);
  }
}
