/**
 * `auth/<mount>/config` of the JWT/OIDC method: where the signing keys come from (exactly one of
 * `jwt_validation_pubkeys`, `jwks_url` or `oidc_discovery_url`), `bound_issuer`,
 * `jwt_supported_algs` and `default_role`. A write replaces the whole configuration, as in Vault,
 * after checking that the keys can be read.
 */
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { isPlainObject, parseFlag } from "../../sdk/fields.js";
import { publicKeyFromPem, SIGNING_ALGORITHMS } from "../../sdk/jws.js";
import { stringList } from "../../sdk/token-settings.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import { fetchDiscovery, fetchJwks, type KeySource } from "./keys.js";

export interface JwtConfig extends KeySource {
  oidc_client_id: string;
  /** Kept for the browser flow; never returned by a read. */
  oidc_client_secret: string;
  oidc_response_mode: string;
  oidc_response_types: string[];
  jwt_supported_algs: string[];
  bound_issuer: string;
  default_role: string;
  namespace_in_state: boolean;
}

const CONFIG_KEY = "config";

export async function readConfig(storage: Storage): Promise<JwtConfig | null> {
  const bytes = await storage.get(CONFIG_KEY);
  return bytes ? decodeJson<JwtConfig>(bytes) : null;
}

/** The configuration as Vault's read shows it (the client secret left out). */
export function describeConfig(config: JwtConfig): Record<string, unknown> {
  const { oidc_client_secret: _, ...shown } = config;
  return { ...shown, jwks_pairs: [], provider_config: {}, unsupported_critical_cert_extensions: [] };
}

export async function writeConfig(storage: Storage, data: Record<string, unknown>): Promise<void> {
  refuseUnsupported(data);
  const previous = await readConfig(storage);
  const config: JwtConfig = {
    oidc_discovery_url: text(data, "oidc_discovery_url"),
    oidc_discovery_ca_pem: text(data, "oidc_discovery_ca_pem"),
    oidc_client_id: text(data, "oidc_client_id"),
    oidc_client_secret: text(data, "oidc_client_secret"),
    oidc_response_mode: text(data, "oidc_response_mode"),
    oidc_response_types: stringList("oidc_response_types", data.oidc_response_types),
    jwks_url: text(data, "jwks_url"),
    jwks_ca_pem: text(data, "jwks_ca_pem"),
    jwt_validation_pubkeys: stringList("jwt_validation_pubkeys", data.jwt_validation_pubkeys),
    jwt_supported_algs: stringList("jwt_supported_algs", data.jwt_supported_algs),
    bound_issuer: text(data, "bound_issuer"),
    default_role: text(data, "default_role"),
    namespace_in_state: parseFlag("namespace_in_state", data.namespace_in_state) ?? previous?.namespace_in_state ?? true,
  };
  await checkKeySource(config);
  const unsupported = config.jwt_supported_algs.find((alg) => !(SIGNING_ALGORITHMS as readonly string[]).includes(alg));
  if (unsupported !== undefined) throw new LogicalError(400, `invalid jwt_supported_algs: unsupported signing algorithm ${JSON.stringify(unsupported)}`);
  if (config.oidc_response_types.some((type) => type !== "code" && type !== "id_token")) {
    throw new LogicalError(400, `invalid response_types [${config.oidc_response_types.join(" ")}]. 'code' and 'id_token' are allowed`);
  }
  if (!["", "query", "form_post"].includes(config.oidc_response_mode)) {
    throw new LogicalError(400, `invalid response_mode: ${JSON.stringify(config.oidc_response_mode)}`);
  }
  await storage.put(CONFIG_KEY, encodeJson(config));
}

/** Vault's checks, in its order: one key source, and that source readable now. */
async function checkKeySource(config: JwtConfig): Promise<void> {
  const sources = [config.oidc_discovery_url !== "", config.jwt_validation_pubkeys.length > 0, config.jwks_url !== ""].filter(Boolean).length;
  if (sources !== 1) throw new LogicalError(400, "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set");
  if ((config.oidc_client_id === "") !== (config.oidc_client_secret === "")) {
    throw new LogicalError(400, "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC");
  }
  if (config.oidc_discovery_url !== "") {
    await fetchDiscovery(config.oidc_discovery_url, config.oidc_discovery_ca_pem).catch(() => {
      throw new LogicalError(400, "error checking oidc discovery URL");
    });
  } else if (config.oidc_client_id !== "") {
    throw new LogicalError(400, "'oidc_discovery_url' must be set for OIDC");
  } else if (config.jwks_url !== "") {
    await fetchJwks(config.jwks_url, config.jwks_ca_pem).catch(() => {
      throw new LogicalError(400, `error checking jwks URL ${config.jwks_url}`);
    });
  } else {
    for (const pem of config.jwt_validation_pubkeys) {
      await publicKeyFromPem(pem).catch((error: Error) => {
        throw new LogicalError(400, `error parsing public key: ${error.message}`);
      });
    }
  }
}

/** Vault features Strongbox does not provide: refused rather than stored and ignored. */
function refuseUnsupported(data: Record<string, unknown>): void {
  const given = (name: string) => {
    const value = data[name];
    return (
      value !== undefined &&
      value !== null &&
      value !== "" &&
      !(Array.isArray(value) && value.length === 0) &&
      !(isPlainObject(value) && Object.keys(value).length === 0)
    );
  };
  for (const name of ["jwks_pairs", "provider_config", "unsupported_critical_cert_extensions"]) {
    if (given(name)) throw new LogicalError(400, `"${name}" is not supported by Strongbox`);
  }
}

function text(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new LogicalError(400, `"${field}" must be a string`);
  return value.trim();
}
