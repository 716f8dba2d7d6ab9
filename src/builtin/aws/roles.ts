/**
 * The aws method's roles (`role/<name>`): the IAM bindings logins are checked against, the EC2
 * bindings hvac and the Vault CLI write (kept, though EC2 login is not served), and token fields.
 */
import { decodeJson, encodeJson, randomUuid } from "../../sdk/encoding.js";
import { parseFlag } from "../../sdk/fields.js";
import type { Params } from "../../sdk/framework.js";
import { requireCanonicalName } from "../../sdk/names.js";
import { listResponse, notFound } from "../../sdk/responses.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import { defaultTokenSettings, stringList, type TokenSettings, updateTokenSettings } from "../../sdk/token-settings.js";
import type { AuthRequest } from "../../sdk/auth.js";
import { type ClientConfig, clientCredentials, readClientConfig } from "./config.js";
import { type IamEntity, parseIamArn } from "./iam-request.js";
import { signedQuery, xmlElement } from "./signing.js";

export const ROLE_NAME = "role";

const EC2_BINDINGS = [
  "bound_ami_id",
  "bound_account_id",
  "bound_region",
  "bound_vpc_id",
  "bound_subnet_id",
  "bound_iam_role_arn",
  "bound_iam_instance_profile_arn",
  "bound_ec2_instance_id",
] as const;

type Ec2Bindings = Record<(typeof EC2_BINDINGS)[number], string[]>;

export interface RoleEntry extends TokenSettings, Ec2Bindings {
  role_id: string;
  auth_type: "iam" | "ec2";
  bound_iam_principal_arn: string[];
  /** The unique IDs of the non-wildcard bound ARNs, resolved when the role was written. */
  bound_iam_principal_id: string[];
  resolve_aws_unique_ids: boolean;
  inferred_entity_type: string;
  inferred_aws_region: string;
  role_tag: string;
  allow_instance_migration: boolean;
  disallow_reauthentication: boolean;
}

export async function readRole(storage: Storage, name: string): Promise<RoleEntry | null> {
  const bytes = await storage.get(`role/${name}`);
  return bytes ? decodeJson<RoleEntry>(bytes) : null;
}

export async function listRoles({ storage }: AuthRequest) {
  return listResponse((await storage.list("role/")).filter((key) => !key.endsWith("/")));
}

export async function roleExists({ storage }: AuthRequest, { role }: Params) {
  return (await readRole(storage, requireCanonicalName(role!, ROLE_NAME))) !== null;
}

export async function showRole({ storage }: AuthRequest, { role }: Params) {
  const entry = await readRole(storage, requireCanonicalName(role!, ROLE_NAME));
  if (!entry) throw notFound();
  return { data: { ...entry } };
}

export async function deleteRole({ storage }: AuthRequest, { role }: Params) {
  await storage.delete(`role/${requireCanonicalName(role!, ROLE_NAME)}`);
  return null;
}

export async function writeRole({ storage, data }: AuthRequest, { role }: Params) {
  const name = requireCanonicalName(role!, ROLE_NAME);
  const existing = await readRole(storage, name);
  const authType = data.auth_type ?? existing?.auth_type ?? "iam";
  if (authType !== "iam" && authType !== "ec2") throw new LogicalError(400, `unrecognized auth_type: ${JSON.stringify(authType)}`);
  if (existing && existing.auth_type !== authType) throw new LogicalError(400, "changing auth_type not allowed");
  const list = (field: keyof RoleEntry) => (data[field] === undefined ? ((existing?.[field] as string[] | undefined) ?? []) : stringList(field, data[field]));
  const text = (field: "inferred_entity_type" | "inferred_aws_region" | "role_tag") => {
    const value = data[field];
    if (value !== undefined && typeof value !== "string") throw new LogicalError(400, `"${field}" must be a string`);
    return (value as string | undefined) ?? existing?.[field] ?? "";
  };
  const flag = (field: "resolve_aws_unique_ids" | "allow_instance_migration" | "disallow_reauthentication", fallback: boolean) =>
    parseFlag(field, data[field]) ?? existing?.[field] ?? fallback;
  const entry: RoleEntry = {
    ...updateTokenSettings(existing ?? defaultTokenSettings(), data),
    ...(Object.fromEntries(EC2_BINDINGS.map((field) => [field, list(field)])) as Ec2Bindings),
    role_id: existing?.role_id ?? randomUuid(),
    auth_type: authType,
    bound_iam_principal_arn: list("bound_iam_principal_arn"),
    bound_iam_principal_id: existing?.bound_iam_principal_id ?? [],
    resolve_aws_unique_ids: flag("resolve_aws_unique_ids", true),
    inferred_entity_type: text("inferred_entity_type"),
    inferred_aws_region: text("inferred_aws_region"),
    role_tag: text("role_tag"),
    allow_instance_migration: flag("allow_instance_migration", false),
    disallow_reauthentication: flag("disallow_reauthentication", false),
  };
  if (existing && !existing.resolve_aws_unique_ids && entry.resolve_aws_unique_ids) {
    throw new LogicalError(400, "changing resolve_aws_unique_ids from false to true is not allowed");
  }
  validateBindings(entry);
  const arnsChanged = !existing || existing.bound_iam_principal_arn.join("\n") !== entry.bound_iam_principal_arn.join("\n");
  if (entry.auth_type === "iam" && entry.resolve_aws_unique_ids && (arnsChanged || data.resolve_aws_unique_ids !== undefined)) {
    entry.bound_iam_principal_id = await resolveUniqueIds(await readClientConfig(storage), entry.bound_iam_principal_arn);
  }
  if (!entry.resolve_aws_unique_ids) entry.bound_iam_principal_id = [];
  await storage.put(`role/${name}`, encodeJson(entry));
  return null;
}

function validateBindings(entry: RoleEntry): void {
  const ec2Bound = EC2_BINDINGS.filter((field) => entry[field].length > 0);
  if (entry.inferred_entity_type !== "") {
    throw new LogicalError(400, "inferred_entity_type is not supported: Strongbox's aws method cannot look up EC2 instances (it serves the IAM method only)");
  }
  if (entry.auth_type === "iam") {
    if (ec2Bound.length > 0) throw new LogicalError(400, `specified ${ec2Bound[0]} but not setting inferred_entity_type`);
    if (entry.role_tag !== "") throw new LogicalError(400, "cannot allow role_tag with auth type iam");
    if (entry.bound_iam_principal_arn.length === 0) throw new LogicalError(400, "at least one bound parameter should be specified on the role");
    for (const arn of entry.bound_iam_principal_arn) {
      if (arn.includes("*") && !arn.endsWith("*"))
        throw new LogicalError(400, `invalid bound_iam_principal_arn ${JSON.stringify(arn)}: a wildcard may only end it`);
      const prefix = arn.replace(/\*$/, "");
      if (!/^arn:[^:]+:(iam|sts):/.test(prefix) && arn !== "*") throw new LogicalError(400, `unrecognized arn: ${JSON.stringify(arn)}`);
    }
    return;
  }
  if (entry.bound_iam_principal_arn.length > 0) throw new LogicalError(400, "specified bound_iam_principal_arn but not allowing iam auth type");
  if (ec2Bound.length === 0) throw new LogicalError(400, "at least one bound parameter should be specified on the role");
}

/** The unique IDs of fully named principals (wildcards are matched by full ARN at login instead). */
async function resolveUniqueIds(config: ClientConfig, arns: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const arn of arns) {
    if (arn.endsWith("*")) continue;
    try {
      ids.push((await lookUpPrincipal(config, parseIamArn(arn))).id);
    } catch (error) {
      throw new LogicalError(400, `unable to resolve ARN ${JSON.stringify(arn)} to internal ID: ${(error as Error).message}`);
    }
  }
  return ids;
}

/** iam:GetUser or iam:GetRole for the principal, with config/client's credentials: its full ARN (path included) and unique ID. */
export async function lookUpPrincipal(config: ClientConfig, entity: IamEntity): Promise<{ arn: string; id: string }> {
  const credentials = clientCredentials(config);
  if (!credentials) {
    throw new Error("no AWS credentials in config/client (access_key, secret_key) to call IAM with; set them, or set resolve_aws_unique_ids=false on the role");
  }
  const isUser = entity.type === "user";
  if (!isUser && entity.type !== "role" && entity.type !== "assumed-role") throw new Error(`unrecognized entity type: ${entity.type}`);
  const answer = await signedQuery(config.iam_endpoint || "https://iam.amazonaws.com", "iam", "us-east-1", credentials, {
    Action: isUser ? "GetUser" : "GetRole",
    [isUser ? "UserName" : "RoleName"]: entity.friendlyName,
    Version: "2010-05-08",
  });
  const id = xmlElement(answer, isUser ? "UserId" : "RoleId");
  const arn = xmlElement(answer, "Arn");
  if (!id || !arn) throw new Error(`IAM's ${isUser ? "GetUser" : "GetRole"} answer names no principal`);
  return { arn, id };
}
