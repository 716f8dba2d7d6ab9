/**
 * The JWT/OIDC auth method (Vault's `auth/jwt`, mounted as type `jwt` or `oidc`): a client logs in
 * with a signed JWT and a role; the token's signature is checked against the mount's keys
 * (config.ts, keys.ts), its registered claims with the role's leeways (sdk/jws.ts), then the
 * role's bound claims, and the issued token carries the role's token settings and the claims the
 * role maps to metadata. Mount storage: `config`, `role/<name>` (names lower-cased, see names.ts).
 * `role_type = "oidc"` roles log in through the browser flow instead (oidc-flow.ts).
 */
import { addressInBlocks, parseCidrList } from "../../sdk/cidr.js";
import { authMethod, type AuthRequest, type LoginGrant, roleStillGrants } from "../../sdk/auth.js";
import { audiences, checkClaims, SIGNING_ALGORITHMS, TokenInvalid, verifiedClaims } from "../../sdk/jws.js";
import { canonicalName } from "../../sdk/names.js";
import { canonicalRolePath, configEndpoint, ROLE_NAME, roleEndpoints } from "../../sdk/role-endpoints.js";
import { LogicalError, permissionDenied } from "../../sdk/types.js";
import { describeConfig, readConfig, writeConfig } from "./config.js";
import { grantFor } from "./grant.js";
import { verificationKeys } from "./keys.js";
import { authUrl, callback } from "./oidc-flow.js";
import { deleteRole, describeRole, listRoles, readRole, writeRole } from "./role.js";

const roles = { readRole, writeRole, deleteRole, listRoles, describeRole };

export const jwt = authMethod({
  renew: roleStillGrants(readRole),
  canonicalPath: canonicalRolePath,
  endpoints: [
    configEndpoint({ readConfig, writeConfig, describeConfig }),
    { pattern: "oidc/auth_url", unauthenticated: true, operations: { update: authUrl } },
    ...roleEndpoints(roles),
  ],
  logins: [
    { pattern: "login", operations: { update: login } },
    // The provider sends the browser back with a GET; with response_mode form_post, a POST.
    { pattern: "oidc/callback", operations: { read: callback, update: callback } },
  ],
});

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

  return grantFor(claims, roleName, role);
}
