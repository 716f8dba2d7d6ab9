/** `seal "<type>" { ... }` stanzas: Vault's keys and environment variables, checked at start-up. */
import { ConfigError, type SealStanza } from "./types.js";
import { type Block, describe, type Env, envValue, quote, requireBool } from "./values.js";

/** A stanza as read from one file, before the environment is applied. */
export interface SealBlock extends Block {
  file: string;
}

const AWSKMS_KEYS = new Set(["region", "kms_key_id", "endpoint", "access_key", "secret_key", "session_token"]);
const SEAL_TYPES = ["awskms", "shamir"];

/**
 * Vault's rules: at most one enabled seal; a second stanza is only allowed when one of the two is
 * `disabled = "true"` (it names the seal being migrated away from).
 */
export function parseSeals(blocks: SealBlock[], env: Env, warnings: string[]): SealStanza[] {
  const seals = blocks.map((block) => parseSeal(block, env, warnings));
  const where = [...new Set(blocks.map((block) => block.file))].join(", ");
  const enabled = seals.filter((seal) => !seal.disabled);
  if (seals.length > 2)
    throw new ConfigError(`${where}: at most two seal stanzas are allowed (the seal in use and, while migrating, the disabled one); found ${seals.length}`);
  if (enabled.length > 1) {
    throw new ConfigError(
      `${where}: only one seal may be enabled, found ${enabled.map((seal) => quote(seal.type)).join(" and ")}; mark the one being migrated away from disabled = "true"`,
    );
  }
  if (seals.length === 2 && seals[0]!.type === seals[1]!.type) {
    throw new ConfigError(`${where}: both seal stanzas are "${seals[0]!.type}"; a migration goes from one seal type to another`);
  }
  return seals;
}

function parseSeal(block: SealBlock, env: Env, warnings: string[]): SealStanza {
  const at = `${block.file}: seal "${block.type}"`;
  if (!SEAL_TYPES.includes(block.type)) throw new ConfigError(`${at}: unknown seal type; known types: ${SEAL_TYPES.join(", ")}`);
  const disabled = block.body.disabled === undefined ? false : requireBool(block.body.disabled, `${at}: "disabled"`);
  const given: Record<string, string> = {};
  for (const [key, value] of Object.entries(block.body)) {
    if (key === "disabled") continue;
    if (block.type !== "awskms" || !AWSKMS_KEYS.has(key)) {
      warnings.push(`${at}: "${key}" is not a known setting; ignored`);
      continue;
    }
    if (typeof value !== "string") throw new ConfigError(`${at}: "${key}" must be a string, got ${describe(value)}`);
    given[key] = value;
  }
  const options = block.type === "awskms" ? awskmsOptions(given, env, at) : {};
  return { type: block.type, disabled, options, file: block.file };
}

/** As Vault's awskms seal: the key id, endpoint and region variables win over the stanza. */
function awskmsOptions(given: Record<string, string>, env: Env, at: string): Record<string, string> {
  const kmsKeyId = envValue(env, "VAULT_AWSKMS_SEAL_KEY_ID") ?? given.kms_key_id;
  if (!kmsKeyId) throw new ConfigError(`${at}: "kms_key_id" is required (the KMS key's id, ARN or alias; or set VAULT_AWSKMS_SEAL_KEY_ID)`);
  const region = envValue(env, "AWS_REGION") ?? envValue(env, "AWS_DEFAULT_REGION") ?? given.region ?? "us-east-1";
  const endpoint = envValue(env, "AWS_KMS_ENDPOINT") ?? given.endpoint;
  if ((given.access_key === undefined) !== (given.secret_key === undefined)) {
    throw new ConfigError(`${at}: "access_key" and "secret_key" must be set together, or neither to use the AWS default credential chain`);
  }
  if (given.session_token !== undefined && given.access_key === undefined) {
    throw new ConfigError(`${at}: "session_token" needs "access_key" and "secret_key"`);
  }
  const options: Record<string, string> = { kms_key_id: kmsKeyId, region };
  if (endpoint) options.endpoint = endpoint;
  for (const key of ["access_key", "secret_key", "session_token"]) if (given[key] !== undefined) options[key] = given[key]!;
  return options;
}
