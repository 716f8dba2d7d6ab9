/**
 * The Kubernetes auth method (Vault's `auth/kubernetes`): a pod logs in with its service account
 * token and a role. The token's claims must name a service account and namespace the role binds
 * (its signature checked first when `pem_keys` are set), then the cluster's TokenReview API must
 * vouch for it (token-review.ts). Mount storage: `config`, `role/<name>` (names lower-cased, as
 * Vault's Kubernetes method stores them).
 */
import { addressInBlocks, parseCidrList } from "../../sdk/cidr.js";
import { authMethod, type AuthRequest, type LoginGrant, roleStillGrants } from "../../sdk/auth.js";
import { globMatch } from "../../sdk/glob.js";
import { audiences, checkClaims, TokenInvalid, unverifiedClaims, verifiedClaims, publicKeyFromPem } from "../../sdk/jws.js";
import { canonicalName } from "../../sdk/names.js";
import { canonicalRolePath, configEndpoint, ROLE_NAME, roleEndpoints } from "../../sdk/role-endpoints.js";
import { LogicalError, permissionDenied } from "../../sdk/types.js";
import {
  deleteRole,
  describeConfig,
  describeRole,
  type KubernetesConfig,
  type KubernetesRole,
  listRoles,
  readConfig,
  readRole,
  tokenSettingsOf,
  writeConfig,
  writeRole,
} from "./settings.js";
import { reviewToken } from "./token-review.js";

/** Vault's Kubernetes method takes these (no EdDSA: Kubernetes does not sign with it). */
const SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"];

const roles = { readRole, writeRole, deleteRole, listRoles, describeRole };

export const kubernetes = authMethod({
  renew: roleStillGrants(readRole),
  canonicalPath: canonicalRolePath,
  endpoints: [configEndpoint({ readConfig, writeConfig, describeConfig }), ...roleEndpoints(roles)],
  logins: [{ pattern: "login", operations: { update: login } }],
});

/** Vault's pathLogin, its checks in its order. */
async function login({ storage, data, now, clientAddress }: AuthRequest): Promise<LoginGrant> {
  const roleName = requiredText(data, "role");
  const token = requiredText(data, "jwt");
  const role = await readRole(storage, canonicalName(roleName, ROLE_NAME));
  if (!role) throw new LogicalError(400, `invalid role name ${JSON.stringify(roleName)}`);
  if (role.token_bound_cidrs.length > 0 && !addressInBlocks(clientAddress, parseCidrList(role.token_bound_cidrs, "token_bound_cidrs"))) {
    throw permissionDenied();
  }
  const config = await readConfig(storage);
  if (!config) throw new LogicalError(400, "could not load backend configuration");

  const claims = await validatedClaims(token, role, config, now);
  const account = serviceAccountOf(claims);
  if (!(role.bound_service_account_names.length === 1 && role.bound_service_account_names[0] === "*")) {
    if (!role.bound_service_account_names.some((pattern) => globMatch(pattern, account.name)))
      throw new LogicalError(403, "service account name not authorized");
  }
  if (!(role.bound_service_account_namespaces[0] === "*" || role.bound_service_account_namespaces.some((pattern) => globMatch(pattern, account.namespace)))) {
    throw new LogicalError(403, "namespace not authorized");
  }
  if (account.uid === "") throw new LogicalError(400, "could not parse UID from claims");
  let aliasName = account.uid;
  if (role.alias_name_source === "serviceaccount_name") {
    if (account.namespace === "" || account.name === "") throw new LogicalError(400, "service account namespace and name must be set");
    aliasName = `${account.namespace}/${account.name}`;
  }

  try {
    const reviewed = await reviewToken(
      { host: config.kubernetes_host, caPem: config.kubernetes_ca_cert, reviewerJwt: config.token_reviewer_jwt },
      token,
      role.audience !== "" ? [role.audience] : audiences(claims),
    );
    if (reviewed.name !== account.name) throw new Error("JWT names did not match");
    if (reviewed.uid !== account.uid) throw new Error("JWT UIDs did not match");
    if (reviewed.namespace !== account.namespace) throw new Error("JWT namepaces did not match");
  } catch {
    // Vault logs the reason at debug level only and tells the client no more than this.
    throw permissionDenied();
  }

  const aliasMetadata = {
    service_account_uid: account.uid,
    service_account_name: account.name,
    service_account_namespace: account.namespace,
    service_account_secret_name: account.secretName,
  };
  return {
    settings: tokenSettingsOf(role),
    metadata: { ...aliasMetadata, role: canonicalName(roleName, ROLE_NAME) },
    displayName: `${account.namespace}-${account.name}`,
    alias: { name: aliasName, metadata: aliasMetadata },
  };
}

/** The token's claims, its signature verified when `pem_keys` are set; 403 with cap's reason otherwise. */
async function validatedClaims(token: string, role: KubernetesRole, config: KubernetesConfig, now: number): Promise<Record<string, unknown>> {
  let claims: Record<string, unknown>;
  try {
    claims =
      config.pem_keys.length === 0
        ? unverifiedClaims(token, SIGNING_ALGORITHMS)
        : await verifiedClaims(
            token,
            await Promise.all(config.pem_keys.map((pem) => publicKeyFromPem(pem))),
            "no known key successfully validated the token signature",
          );
    checkClaims(token, claims, {
      issuer: !config.disable_iss_validation && config.issuer !== "" ? config.issuer : undefined,
      audiences: role.audience !== "" ? [role.audience] : [],
      algorithms: SIGNING_ALGORITHMS,
      expirationLeeway: 0,
      notBeforeLeeway: 0,
      clockSkewLeeway: 0,
      now,
      allowMissingTimes: true,
    });
  } catch (error) {
    if (!(error instanceof TokenInvalid)) throw error;
    if (error.message.includes("verifying token signature")) throw permissionDenied();
    throw new LogicalError(403, error.message);
  }
  return claims;
}

interface ServiceAccount {
  name: string;
  namespace: string;
  uid: string;
  secretName: string;
}

/** Who the token is for: a projected token's `kubernetes.io` claim, else a legacy secret token's claims. */
function serviceAccountOf(claims: Record<string, unknown>): ServiceAccount {
  const legacy = (key: string) => {
    const value = claims[`kubernetes.io/serviceaccount/${key}`];
    return typeof value === "string" ? value : "";
  };
  const account = {
    name: legacy("service-account.name"),
    namespace: legacy("namespace"),
    uid: legacy("service-account.uid"),
    secretName: legacy("secret.name"),
  };
  const projected = claims["kubernetes.io"];
  if (typeof projected === "object" && projected !== null) {
    const { namespace, serviceaccount } = projected as { namespace?: unknown; serviceaccount?: { name?: unknown; uid?: unknown } | null };
    account.namespace = typeof namespace === "string" ? namespace : "";
    if (typeof serviceaccount === "object" && serviceaccount !== null) {
      account.name = typeof serviceaccount.name === "string" ? serviceaccount.name : "";
      account.uid = typeof serviceaccount.uid === "string" ? serviceaccount.uid : "";
    }
  }
  return account;
}

function requiredText(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value !== "string" || value === "") throw new LogicalError(400, `missing ${field}`);
  return value;
}
