/** The aws method's `config/client` and `config/identity`, with Vault's fields and defaults. */
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { parseFlag } from "../../sdk/fields.js";
import { notFound } from "../../sdk/responses.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import { stringList } from "../../sdk/token-settings.js";
import type { AuthRequest } from "../../sdk/auth.js";
import type { AwsCredentials } from "./signing.js";
import type { StsSettings } from "./iam-request.js";

export interface ClientConfig extends StsSettings {
  access_key: string;
  secret_key: string;
  endpoint: string;
  iam_endpoint: string;
  sts_region: string;
  max_retries: number;
}

export interface IdentityConfig {
  iam_alias: string;
  iam_metadata: string[];
  ec2_alias: string;
  ec2_metadata: string[];
}

const CLIENT_KEY = "config/client";
const IDENTITY_KEY = "config/identity";
const TEXT_FIELDS = ["access_key", "secret_key", "endpoint", "iam_endpoint", "sts_endpoint", "sts_region", "iam_server_id_header_value"] as const;
const DEFAULT_CLIENT: ClientConfig = {
  access_key: "",
  secret_key: "",
  endpoint: "",
  iam_endpoint: "",
  sts_endpoint: "",
  sts_region: "",
  use_sts_region_from_client: false,
  iam_server_id_header_value: "",
  allowed_sts_header_values: [],
  max_retries: -1,
};

const IAM_ALIASES = ["role_id", "unique_id", "full_arn", "canonical_arn"];
const EC2_ALIASES = ["role_id", "instance_id", "image_id"];
const IAM_METADATA = [
  "account_id",
  "auth_type",
  "canonical_arn",
  "client_arn",
  "client_user_id",
  "inferred_aws_region",
  "inferred_entity_id",
  "inferred_entity_type",
];
const EC2_METADATA = ["account_id", "ami_id", "instance_id", "nonce", "region", "role", "role_tag_max_ttl"];
const DEFAULT_METADATA = ["account_id", "auth_type"];

export async function readClientConfig(storage: Storage): Promise<ClientConfig> {
  const bytes = await storage.get(CLIENT_KEY);
  return bytes ? { ...DEFAULT_CLIENT, ...decodeJson<Partial<ClientConfig>>(bytes) } : { ...DEFAULT_CLIENT };
}

export async function readIdentityConfig(storage: Storage): Promise<IdentityConfig> {
  const bytes = await storage.get(IDENTITY_KEY);
  const stored = bytes ? decodeJson<Partial<IdentityConfig>>(bytes) : {};
  return { iam_alias: "role_id", iam_metadata: DEFAULT_METADATA, ec2_alias: "role_id", ec2_metadata: DEFAULT_METADATA, ...stored };
}

/** The credentials the method signs its own IAM calls with (`config/client`); null when none are set. */
export function clientCredentials(config: ClientConfig): AwsCredentials | null {
  return config.access_key && config.secret_key ? { accessKeyId: config.access_key, secretAccessKey: config.secret_key } : null;
}

export async function readClient({ storage }: AuthRequest) {
  const bytes = await storage.get(CLIENT_KEY);
  if (!bytes) throw notFound();
  const { secret_key: _, ...shown } = await readClientConfig(storage);
  return { data: { ...shown } };
}

export async function writeClient({ storage, data }: AuthRequest) {
  const next = await readClientConfig(storage);
  for (const field of TEXT_FIELDS) {
    const value = data[field];
    if (value === undefined) continue;
    if (typeof value !== "string") throw new LogicalError(400, `"${field}" must be a string`);
    next[field] = value.trim();
  }
  for (const field of ["endpoint", "iam_endpoint", "sts_endpoint"] as const) {
    if (next[field] !== "" && !/^https?:\/\/[^/\s]+\/?$/.test(next[field])) throw new LogicalError(400, `"${field}" must be an http(s) URL with no path`);
  }
  if (Boolean(next.access_key) !== Boolean(next.secret_key)) throw new LogicalError(400, "access_key and secret_key must be set together");
  next.use_sts_region_from_client = parseFlag("use_sts_region_from_client", data.use_sts_region_from_client) ?? next.use_sts_region_from_client;
  if (data.allowed_sts_header_values !== undefined) next.allowed_sts_header_values = stringList("allowed_sts_header_values", data.allowed_sts_header_values);
  if (data.max_retries !== undefined) {
    const retries = typeof data.max_retries === "string" ? Number(data.max_retries) : data.max_retries;
    if (typeof retries !== "number" || !Number.isSafeInteger(retries) || retries < -1)
      throw new LogicalError(400, `invalid max_retries ${JSON.stringify(data.max_retries)}`);
    next.max_retries = retries;
  }
  for (const field of ["role_arn", "identity_token_audience"]) {
    if (typeof data[field] === "string" && data[field] !== "")
      throw new LogicalError(400, `"${field}" is not supported: Strongbox's aws method does not assume roles for its own AWS calls`);
  }
  await storage.put(CLIENT_KEY, encodeJson(next));
  return null;
}

export async function deleteClient({ storage }: AuthRequest) {
  await storage.delete(CLIENT_KEY);
  return null;
}

export async function readIdentity({ storage }: AuthRequest) {
  return { data: { ...(await readIdentityConfig(storage)) } };
}

export async function writeIdentity({ storage, data }: AuthRequest) {
  const next = await readIdentityConfig(storage);
  for (const [field, allowed] of [
    ["iam_alias", IAM_ALIASES],
    ["ec2_alias", EC2_ALIASES],
  ] as const) {
    const value = data[field];
    if (value === undefined) continue;
    if (typeof value !== "string" || !allowed.includes(value)) throw new LogicalError(400, `${field} of ${JSON.stringify(value)} not in set of allowed values`);
    next[field] = value;
  }
  for (const [field, available] of [
    ["iam_metadata", IAM_METADATA],
    ["ec2_metadata", EC2_METADATA],
  ] as const) {
    if (data[field] === undefined) continue;
    const fields = stringList(field, data[field]);
    const chosen = fields.flatMap((name) => (name === "default" ? DEFAULT_METADATA : [name]));
    const unknown = chosen.find((name) => !available.includes(name));
    if (unknown !== undefined)
      throw new LogicalError(400, `${JSON.stringify(unknown)} is not an available field for ${field}; available: ${available.join(", ")}`);
    next[field] = [...new Set(chosen)].sort();
  }
  await storage.put(IDENTITY_KEY, encodeJson(next));
  return null;
}
