/** The Kubernetes method's `config` and `role/<name>` entries: fields, defaults, Vault's checks and texts. */
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { formatDuration, parseFlag } from "../../sdk/fields.js";
import { publicKeyFromPem } from "../../sdk/jws.js";
import { pemBlocks } from "../../sdk/pem.js";
import { defaultTokenSettings, stringList, type TokenSettings, updateTokenSettings } from "../../sdk/token-settings.js";
import { LogicalError, type Storage } from "../../sdk/types.js";

export interface KubernetesConfig {
  kubernetes_host: string;
  kubernetes_ca_cert: string;
  /** Never returned by a read (Vault shows `token_reviewer_jwt_set`). */
  token_reviewer_jwt: string;
  pem_keys: string[];
  issuer: string;
  disable_iss_validation: boolean;
  disable_local_ca_jwt: boolean;
}

export interface KubernetesRole extends TokenSettings {
  bound_service_account_names: string[];
  bound_service_account_namespaces: string[];
  audience: string;
  alias_name_source: "serviceaccount_uid" | "serviceaccount_name";
}

const CONFIG_KEY = "config";
const ROLE_PREFIX = "role/";

export async function readConfig(storage: Storage): Promise<KubernetesConfig | null> {
  const bytes = await storage.get(CONFIG_KEY);
  return bytes ? decodeJson<KubernetesConfig>(bytes) : null;
}

export function describeConfig(config: KubernetesConfig): Record<string, unknown> {
  const { token_reviewer_jwt, ...shown } = config;
  return { ...shown, token_reviewer_jwt_set: token_reviewer_jwt !== "", use_annotations_as_alias_metadata: false };
}

/** A write replaces the configuration, as in Vault. */
export async function writeConfig(storage: Storage, data: Record<string, unknown>): Promise<void> {
  const config: KubernetesConfig = {
    kubernetes_host: text(data, "kubernetes_host"),
    kubernetes_ca_cert: text(data, "kubernetes_ca_cert"),
    token_reviewer_jwt: text(data, "token_reviewer_jwt"),
    pem_keys: stringList("pem_keys", data.pem_keys),
    issuer: text(data, "issuer"),
    disable_iss_validation: parseFlag("disable_iss_validation", data.disable_iss_validation) ?? true,
    disable_local_ca_jwt: parseFlag("disable_local_ca_jwt", data.disable_local_ca_jwt) ?? false,
  };
  if (config.kubernetes_host === "") throw new LogicalError(400, "no host provided");
  if (!/^https?:\/\//i.test(config.kubernetes_host)) throw new LogicalError(400, `"kubernetes_host" must be an http:// or https:// URL`);
  if (config.kubernetes_ca_cert !== "" && !pemBlocks(config.kubernetes_ca_cert).some((block) => block.label === "CERTIFICATE")) {
    throw new LogicalError(400, "The provided CA PEM data contains no valid certificates");
  }
  for (const pem of config.pem_keys) {
    await publicKeyFromPem(pem).catch((error: Error) => {
      throw new LogicalError(400, error.message);
    });
  }
  if (parseFlag("use_annotations_as_alias_metadata", data.use_annotations_as_alias_metadata)) {
    throw new LogicalError(400, `"use_annotations_as_alias_metadata" is not supported by Strongbox`);
  }
  await storage.put(CONFIG_KEY, encodeJson(config));
}

export async function readRole(storage: Storage, name: string): Promise<KubernetesRole | null> {
  const bytes = await storage.get(ROLE_PREFIX + name);
  return bytes ? decodeJson<KubernetesRole>(bytes) : null;
}

export async function deleteRole(storage: Storage, name: string): Promise<void> {
  await storage.delete(ROLE_PREFIX + name);
}

export async function listRoles(storage: Storage): Promise<string[]> {
  return (await storage.list(ROLE_PREFIX)).filter((key) => !key.endsWith("/"));
}

export function tokenSettingsOf(role: KubernetesRole): TokenSettings {
  const { bound_service_account_names: _n, bound_service_account_namespaces: _s, audience: _a, alias_name_source: _l, ...settings } = role;
  return settings;
}

/** Vault's role read: `audience` only when set. */
export function describeRole(role: KubernetesRole): Record<string, unknown> {
  const { audience, ...shown } = role;
  return { ...shown, bound_service_account_namespace_selector: "", ...(audience !== "" ? { audience } : {}) };
}

/** Applies a create or update; Vault's checks and texts. Returns Vault's warnings. */
export async function writeRole(
  storage: Storage,
  name: string,
  existing: KubernetesRole | null,
  data: Record<string, unknown>,
  maxLeaseTtl: number,
): Promise<string[]> {
  const warnings: string[] = [];
  const given = (field: string) => data[field] !== undefined && data[field] !== null;
  const settings = updateTokenSettings(existing ? tokenSettingsOf(existing) : defaultTokenSettings(), data, true);
  if (settings.token_period > maxLeaseTtl) {
    const quoted = (seconds: number) => JSON.stringify(formatDuration(seconds));
    throw new LogicalError(
      400,
      `token period of '${quoted(settings.token_period)}' is greater than the backend's maximum lease TTL of '${quoted(maxLeaseTtl)}'`,
    );
  }
  if (settings.token_max_ttl > 0 && settings.token_ttl > settings.token_max_ttl)
    throw new LogicalError(400, "token ttl should not be greater than token max ttl");
  if (settings.token_max_ttl > maxLeaseTtl) {
    warnings.push("max_ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated");
  }
  const names = given("bound_service_account_names")
    ? stringList("bound_service_account_names", data.bound_service_account_names)
    : (existing?.bound_service_account_names ?? []);
  if (names.length === 0) throw new LogicalError(400, `"bound_service_account_names" can not be empty`);
  if (names.length > 1 && names.includes("*")) throw new LogicalError(400, `can not mix "*" with values`);
  const namespaces = given("bound_service_account_namespaces")
    ? stringList("bound_service_account_namespaces", data.bound_service_account_namespaces)
    : (existing?.bound_service_account_namespaces ?? []);
  if (typeof data.bound_service_account_namespace_selector === "string" && data.bound_service_account_namespace_selector.trim() !== "") {
    throw new LogicalError(400, `"bound_service_account_namespace_selector" is not supported by Strongbox`);
  }
  if (namespaces.length === 0) {
    throw new LogicalError(400, `"bound_service_account_namespaces" can not be empty if "bound_service_account_namespace_selector" is not set`);
  }
  if (namespaces.length > 1 && namespaces.includes("*")) throw new LogicalError(400, `can not mix "*" with values`);
  const audience = given("audience") ? text(data, "audience") : (existing?.audience ?? "");
  if (audience === "") {
    warnings.push(
      `Role ${name} does not have an audience configured. While audiences are not required, consider specifying one if your use case would benefit from additional JWT claim verification.`,
    );
  }
  const source = given("alias_name_source") && data.alias_name_source !== "" ? data.alias_name_source : (existing?.alias_name_source ?? "serviceaccount_uid");
  if (source !== "serviceaccount_uid" && source !== "serviceaccount_name") {
    throw new LogicalError(400, "invalid alias_name_source, must be one of: serviceaccount_uid, serviceaccount_name");
  }
  const role: KubernetesRole = {
    ...settings,
    bound_service_account_names: names,
    bound_service_account_namespaces: namespaces,
    audience,
    alias_name_source: source,
  };
  await storage.put(ROLE_PREFIX + name, encodeJson(role));
  return warnings;
}

function text(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new LogicalError(400, `"${field}" must be a string`);
  return value.trim();
}
