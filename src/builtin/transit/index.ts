/**
 * Vault's transit secrets engine: encryption, signing, HMACs, hashing and random bytes as a
 * service, with named keys that never leave the barrier unless made exportable. Same paths,
 * fields, errors and ciphertext format as Vault (`vault:v<version>:<base64>`).
 *
 * Storage (the mount's, inside the barrier): `policy/<name>` per key (keyring.ts), `config/cache`,
 * `config/keys` (encryption-endpoints.ts), `import/wrapping-key` (import-endpoints.ts).
 */
import { toBase64, toHex } from "../../sdk/encoding.js";
import { type Endpoint, secretsEngine } from "../../sdk/framework.js";
import { parseCount } from "../../sdk/fields.js";
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { type HandlerResult, type LogicalRequest, LogicalError, noHandler, type SecretsEngine } from "../../sdk/types.js";
import { certificateEndpoints } from "./certificate-endpoints.js";
import { encryptionEndpoints } from "./encryption-endpoints.js";
import { importEndpoints } from "./import-endpoints.js";
import { base64Field, KEY_NAME, text } from "./inputs.js";
import { Keyring, rotationDue } from "./keyring.js";
import { keysEndpoints } from "./keys-endpoints.js";
import { digest, isHashAlgorithm, randomBytes } from "./primitives.js";
import { signingEndpoints } from "./signing-endpoints.js";

const MAX_RANDOM_BYTES = 128 * 1024;
const MIN_CACHE_SIZE = 10;
const CACHE_CONFIG = "config/cache";

export function transitEngine(): SecretsEngine {
  const keyring = new Keyring();
  let cacheConfigured = false;
  const endpoints: Endpoint<LogicalRequest>[] = [
    ...keysEndpoints(keyring),
    ...importEndpoints(keyring),
    ...encryptionEndpoints(keyring),
    ...signingEndpoints(keyring),
    ...certificateEndpoints(keyring),
    { pattern: "hash/:urlalgorithm?", standby: true, operations: { update: hashHandler } },
    { pattern: "random/:source/:urlbytes", standby: true, operations: { update: randomHandler } },
    { pattern: "random/:source?", standby: true, operations: { update: randomHandler } },
    {
      pattern: "cache-config",
      operations: {
        read: async ({ storage }) => ({ data: { size: await cacheSize(storage) } }),
        update: async ({ storage, data }) => {
          const size = parseCount("size", data.size) ?? 0;
          if (size !== 0 && size < MIN_CACHE_SIZE) throw new LogicalError(400, `size must be 0 or a value greater or equal to ${MIN_CACHE_SIZE}`);
          await storage.put(CACHE_CONFIG, encodeJson({ size }));
          keyring.resize(size);
          return { data: { size }, warnings: ["cache configurations will be applied when this backend is restarted"] };
        },
      },
    },
  ];
  const engine = secretsEngine({
    endpoints: endpoints.map(withKeyName),
    // Vault's periodic rotation: keys with auto_rotate_period rotate even if nothing encrypts with them.
    periodic: async (storage, _mount, now) => {
      for (const name of await keyring.list(storage)) {
        const key = await keyring.get(storage, name);
        if (key && rotationDue(key.policy, now)) await keyring.rotateIfDue(storage, name, now);
      }
    },
  });
  return {
    ...engine,
    handle: async (request) => {
      // The configured cache size applies from the first request this instance serves.
      if (!cacheConfigured) {
        keyring.resize(await cacheSize(request.storage));
        cacheConfigured = true;
      }
      return engine.handle(request);
    },
  };
}

async function cacheSize(storage: LogicalRequest["storage"]): Promise<number> {
  const bytes = await storage.get(CACHE_CONFIG);
  return bytes ? decodeJson<{ size: number }>(bytes).size : 0;
}

/** The path parameters that name keys. */
const KEY_NAME_PARAMS = ["name", "destination", "source"];

/** Vault routes only key names matching `\w(([\w-.]+)?\w)?`; any other name has no handler. */
function withKeyName(endpoint: Endpoint<LogicalRequest>): Endpoint<LogicalRequest> {
  if (!KEY_NAME_PARAMS.some((param) => endpoint.pattern.includes(`:${param}`))) return endpoint;
  const check = (request: LogicalRequest, params: Record<string, string>) => {
    for (const param of KEY_NAME_PARAMS) {
      if (params[param] !== undefined && !KEY_NAME.test(params[param])) throw noHandler(request.mount.path + request.path);
    }
  };
  const operations = Object.fromEntries(
    Object.entries(endpoint.operations).map(([operation, handler]) => [
      operation,
      (request: LogicalRequest, params: Record<string, string>) => {
        check(request, params);
        return handler!(request, params);
      },
    ]),
  );
  const exists = endpoint.exists;
  return {
    ...endpoint,
    operations,
    ...(exists
      ? { exists: async (request: LogicalRequest, params: Record<string, string>) => KEY_NAME.test(params.name ?? "") && exists(request, params) }
      : {}),
  };
}

async function hashHandler({ data }: LogicalRequest, params: Record<string, string>): Promise<HandlerResult> {
  if (data.input === undefined || data.input === null) throw new LogicalError(400, "input missing");
  const format = text(data, "format", "hex");
  const algorithm = params.urlalgorithm || text(data, "algorithm", "sha2-256");
  const input = base64Field(text(data, "input"), "unable to decode input as base64: ");
  if (format !== "hex" && format !== "base64") throw new LogicalError(400, `unsupported encoding format ${format}; must be "hex" or "base64"`);
  if (!isHashAlgorithm(algorithm) || algorithm === "sha1") throw new LogicalError(400, `unsupported algorithm ${algorithm}`);
  const sum = await digest(algorithm, input);
  return { data: { sum: format === "hex" ? toHex(sum) : toBase64(sum) } };
}

async function randomHandler({ data }: LogicalRequest, params: Record<string, string>): Promise<HandlerResult> {
  let source: string | undefined = params.source;
  let urlbytes: string | undefined = params.urlbytes;
  // `random/32` names the byte count in the source's place, as Vault reads it.
  if (source !== undefined && urlbytes === undefined && /^\d+$/.test(source)) {
    urlbytes = source;
    source = undefined;
  }
  source ||= text(data, "source", "platform");
  if (!["platform", "seal", "all"].includes(source))
    throw new LogicalError(400, `unsupported entropy source "${source}"; must be "platform" or "seal", or "all"`);
  const format = text(data, "format", "base64");
  let bytes = 32;
  if (urlbytes !== undefined) {
    if (!/^\d{1,9}$/.test(urlbytes)) throw new LogicalError(400, `error parsing url-set byte count: strconv.Atoi: parsing "${urlbytes}": invalid syntax`);
    bytes = Number(urlbytes);
  } else if (data.bytes !== undefined && data.bytes !== null && data.bytes !== "") {
    bytes = parseCount("bytes", data.bytes) ?? 32;
  }
  if (format !== "hex" && format !== "base64") throw new LogicalError(400, `unsupported encoding format "${format}"; must be "hex" or "base64"`);
  if (bytes < 1) throw new LogicalError(400, `the value of "bytes" cannot be less than 1`);
  if (bytes > MAX_RANDOM_BYTES) throw new LogicalError(400, `the value of "bytes" cannot be more than ${MAX_RANDOM_BYTES}`);
  // Strongbox has no seal-side entropy source; every source reads the platform's CSPRNG.
  const random = randomBytes(bytes);
  return { data: { random_bytes: format === "hex" ? toHex(random) : toBase64(random) } };
}
