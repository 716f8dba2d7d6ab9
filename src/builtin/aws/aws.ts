/**
 * The aws auth method (Vault's `auth/aws`), IAM login: the client signs an `sts:GetCallerIdentity`
 * request with its own AWS credentials and hands it over unsent; Strongbox checks it and sends it
 * to STS itself, and the caller STS answers with is who logs in. Roles bind IAM principal ARNs
 * (wildcards at the end, as Vault allows). Config and role endpoints of the EC2 method exist, its
 * login does not (see docs/auth-aws-cert.md).
 */
import { addressInBlocks, parseCidrList } from "../../sdk/cidr.js";
import { canonicalName } from "../../sdk/names.js";
import { LogicalError, permissionDenied } from "../../sdk/types.js";
import { type AuthRenewRequest, type AuthRequest, authMethod, type LoginGrant } from "../../sdk/auth.js";
import type { TokenSettings } from "../../sdk/token-settings.js";
import { deleteClient, readClient, readClientConfig, readIdentity, readIdentityConfig, writeClient, writeIdentity } from "./config.js";
import { callerIdentity, canonicalArn, checkSignedRequest, decodeSignedRequest, globbedMatch, loginKind, parseIamArn } from "./iam-request.js";
import { deleteRole, listRoles, lookUpPrincipal, readRole, ROLE_NAME, type RoleEntry, roleExists, showRole, writeRole } from "./roles.js";

/** `role/<name>`: the name canonical before the ACL sees it. */
const ROLE_PATH = /^role\/([^/]+)$/;

export const aws = authMethod({
  canonicalPath(path) {
    const match = ROLE_PATH.exec(path);
    return match ? `role/${canonicalName(match[1]!, ROLE_NAME)}` : path;
  },
  endpoints: [
    { pattern: "config/client", operations: { read: readClient, update: writeClient, delete: deleteClient } },
    { pattern: "config/identity", operations: { read: readIdentity, update: writeIdentity } },
    { pattern: "roles", operations: { list: listRoles } },
    { pattern: "roles/", operations: { list: listRoles } },
    { pattern: "role", operations: { list: listRoles } },
    { pattern: "role/", operations: { list: listRoles } },
    { pattern: "role/:role", exists: roleExists, operations: { read: showRole, update: writeRole, delete: deleteRole } },
  ],
  logins: [{ pattern: "login", operations: { update: login } }],
  renew,
});

/** Vault's renewal check: the role still exists and still binds the principal the token logged in as. */
async function renew({ storage, metadata }: AuthRenewRequest): Promise<void> {
  const roleName = metadata.role ?? "";
  const role = roleName === "" ? null : await readRole(storage, roleName);
  if (!role) throw new LogicalError(400, "role entry not found");
  const canonical = metadata.canonical_arn ?? "";
  let entity: ReturnType<typeof parseIamArn>;
  try {
    entity = parseIamArn(canonical);
  } catch (error) {
    throw new LogicalError(400, `error parsing ARN ${JSON.stringify(canonical)}: ${(error as Error).message}`);
  }
  const refused = new LogicalError(400, `role no longer bound to ARN ${JSON.stringify(canonical)}`);
  await requireBoundPrincipal(role, metadata.client_user_id ?? "", entity, await readClientConfig(storage), refused);
}

async function login(request: AuthRequest): Promise<LoginGrant> {
  const { data, storage, clientAddress } = request;
  if (loginKind(data) === "ec2") throw new LogicalError(400, "EC2 login is not supported by Strongbox's aws method; log in with the IAM method (iam_* fields)");
  const signed = decodeSignedRequest(data);
  const config = await readClientConfig(storage);
  const endpoint = await checkSignedRequest(signed, config);
  const caller = await callerIdentity(signed, endpoint);
  let entity: ReturnType<typeof parseIamArn>;
  try {
    entity = parseIamArn(caller.arn);
  } catch (error) {
    throw new LogicalError(400, `error parsing arn ${JSON.stringify(caller.arn)}: ${(error as Error).message}`);
  }
  const roleName = typeof data.role === "string" && data.role !== "" ? data.role.toLowerCase() : entity.friendlyName.toLowerCase();
  const role = await readRole(storage, roleName);
  if (!role) throw new LogicalError(400, `entry for role ${roleName} not found`);
  if (role.auth_type !== "iam") throw new LogicalError(400, `auth method iam not allowed for role ${roleName}`);

  // An assumed role's caller ID is "<role's unique ID>:<session name>".
  const callerUniqueId = caller.userId.split(":")[0]!;
  const refused = new LogicalError(400, `IAM Principal ${JSON.stringify(caller.arn)} does not belong to the role ${JSON.stringify(roleName)}`);
  await requireBoundPrincipal(role, callerUniqueId, entity, config, refused);
  if (role.token_bound_cidrs.length > 0 && !addressInBlocks(clientAddress, parseCidrList(role.token_bound_cidrs, "token_bound_cidrs"))) {
    throw permissionDenied();
  }
  const fields: Record<string, string> = {
    client_arn: caller.arn,
    canonical_arn: canonicalArn(entity),
    client_user_id: callerUniqueId,
    auth_type: "iam",
    inferred_entity_type: "",
    inferred_entity_id: "",
    inferred_aws_region: role.inferred_aws_region,
    account_id: entity.accountNumber,
  };
  const identity = await readIdentityConfig(storage);
  const aliasName = { role_id: role.role_id, unique_id: callerUniqueId, full_arn: caller.arn, canonical_arn: canonicalArn(entity) }[identity.iam_alias];
  return {
    settings: tokenSettingsOf(role),
    metadata: { ...fields, role_id: role.role_id, role: roleName },
    displayName: entity.friendlyName,
    alias: { name: aliasName ?? role.role_id, metadata: Object.fromEntries(identity.iam_metadata.map((field) => [field, fields[field] ?? ""])) },
  };
}

/**
 * Vault's three ways to match the caller: its unique ID among those resolved when the role was
 * written; its canonical ARN among the bound ARNs (when IDs are not resolved); or its full ARN (path
 * included, looked up in IAM) against a bound ARN ending in a wildcard.
 */
async function requireBoundPrincipal(
  role: RoleEntry,
  callerUniqueId: string,
  entity: ReturnType<typeof parseIamArn>,
  config: Awaited<ReturnType<typeof readClientConfig>>,
  refused: LogicalError,
): Promise<void> {
  if (role.bound_iam_principal_arn.length === 0) return;
  if (role.resolve_aws_unique_ids && role.bound_iam_principal_id.includes(callerUniqueId)) return;
  if (!role.resolve_aws_unique_ids && role.bound_iam_principal_arn.includes(canonicalArn(entity))) return;
  const wildcards = role.bound_iam_principal_arn.filter((arn) => arn.endsWith("*"));
  if (wildcards.length === 0) throw refused;
  let fullArn: string;
  try {
    fullArn = (await lookUpPrincipal(config, entity)).arn;
  } catch (error) {
    throw new LogicalError(400, `error looking up full ARN of entity ${canonicalArn(entity)}: ${(error as Error).message}`);
  }
  if (!wildcards.some((pattern) => globbedMatch(pattern, fullArn))) throw refused;
}

function tokenSettingsOf(role: RoleEntry): TokenSettings {
  return {
    token_policies: role.token_policies,
    token_ttl: role.token_ttl,
    token_max_ttl: role.token_max_ttl,
    token_explicit_max_ttl: role.token_explicit_max_ttl,
    token_period: role.token_period,
    token_num_uses: role.token_num_uses,
    token_bound_cidrs: role.token_bound_cidrs,
    token_no_default_policy: role.token_no_default_policy,
    token_type: role.token_type,
  };
}
