/** `sign/`, `verify/` (signatures and HMACs) and `hmac/`: single items or `batch_input`, as Vault answers them. */
import { fromBase64, toBase64 } from "../../sdk/encoding.js";
import type { Endpoint } from "../../sdk/framework.js";
import { parseFlag } from "../../sdk/fields.js";
import { type HandlerResult, type LogicalRequest, LogicalError } from "../../sdk/types.js";
import { decryptionVersion } from "./cipher.js";
import { batchInput, decodeBase64, has, integer, splitVersioned, text } from "./inputs.js";
import type { Keyring, LoadedKey } from "./keyring.js";
import { constantTimeEqual, hmac, type HashAlgorithm, isHashAlgorithm } from "./primitives.js";
import { type SignatureOptions, sign, verify } from "./signing.js";

export function signingEndpoints(keyring: Keyring): Endpoint<LogicalRequest>[] {
  return [
    { pattern: "sign/:name/:urlalgorithm?", operations: { update: (request, params) => signHandler(keyring, request, params) } },
    { pattern: "verify/:name/:urlalgorithm?", standby: true, operations: { update: (request, params) => verifyHandler(keyring, request, params) } },
    { pattern: "hmac/:name/:urlalgorithm?", standby: true, operations: { update: (request, params) => hmacHandler(keyring, request, params) } },
  ];
}

interface Result {
  fields?: Record<string, unknown>;
  error?: string;
}

/** One item's answer for a batch: its fields or its error, and its reference. */
function batchResult(result: Result, input: Record<string, unknown>): Record<string, unknown> {
  return { ...(result.error !== undefined ? { error: result.error } : result.fields), reference: text(input, "reference") };
}

async function run(work: () => Promise<Record<string, unknown>>): Promise<Result> {
  try {
    return { fields: await work() };
  } catch (error) {
    if (error instanceof LogicalError) return { error: error.message };
    throw error;
  }
}

function single(result: Result): HandlerResult {
  if (result.error !== undefined) throw new LogicalError(400, result.error);
  return { data: result.fields! };
}

function hashAlgorithmOf(data: Record<string, unknown>, params: Record<string, string>): HashAlgorithm | "none" {
  const name = params.urlalgorithm || text(data, "hash_algorithm") || text(data, "algorithm") || "sha2-256";
  if (name !== "none" && !isHashAlgorithm(name)) throw new LogicalError(400, `invalid hash algorithm "${name}"`);
  return name;
}

function signatureOptions(data: Record<string, unknown>, params: Record<string, string>): SignatureOptions {
  const hash = hashAlgorithmOf(data, params);
  const marshaling = text(data, "marshaling_algorithm", "asn1");
  if (marshaling !== "asn1" && marshaling !== "jws") throw new LogicalError(400, `invalid marshaling type "${marshaling}"`);
  const prehashed = parseFlag("prehashed", data.prehashed) ?? false;
  const signatureAlgorithm = text(data, "signature_algorithm");
  if (hash === "none" && (!prehashed || signatureAlgorithm !== "pkcs1v15")) {
    throw new LogicalError(400, "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15");
  }
  return { hash, marshaling, prehashed, signatureAlgorithm, saltLength: saltLength(data) };
}

function saltLength(data: Record<string, unknown>): SignatureOptions["saltLength"] {
  const raw = text(data, "salt_length", "auto").toLowerCase();
  if (raw === "auto" || raw === "0") return "auto";
  if (raw === "hash" || raw === "-1") return "hash";
  if (!/^[+-]?\d{1,9}$/.test(raw)) throw new LogicalError(400, `salt length neither 'auto', 'hash', nor an int: ${raw}`);
  const value = Number(raw);
  if (value < -1) throw new LogicalError(400, `salt length is invalid: ${value}`);
  return value;
}

function decodedInput(input: Record<string, unknown>): Uint8Array {
  if (!has(input, "input")) throw new LogicalError(400, "missing input");
  const decoded = decodeBase64(text(input, "input"));
  if (typeof decoded === "string") throw new LogicalError(400, `unable to decode input as base64: ${decoded}`);
  return decoded;
}

function decodedContext(input: Record<string, unknown>): Uint8Array {
  const decoded = decodeBase64(text(input, "context"));
  if (typeof decoded === "string") throw new LogicalError(400, "failed to base64-decode context");
  return decoded;
}

async function signHandler(keyring: Keyring, request: LogicalRequest, params: Record<string, string>): Promise<HandlerResult> {
  const { data } = request;
  const options = signatureOptions(data, params);
  const key = await keyring.get(request.storage, params.name!);
  if (!key) throw new LogicalError(400, "signing key not found");
  if (key.info.kind !== "ecdsa" && key.info.kind !== "ed25519" && key.info.kind !== "rsa")
    throw new LogicalError(400, `key type ${key.policy.type} does not support signing`);
  const version = integer(data, "key_version");
  const signOne = (input: Record<string, unknown>) =>
    run(async () => {
      const signed = await sign(key, version, decodedContext(input), decodedInput(input), options);
      return { signature: signed.signature, key_version: signed.version, ...(signed.publicKey ? { public_key: toBase64(signed.publicKey) } : {}) };
    });
  const batch = batchInput(data);
  if (!batch) return single(await signOne(data));
  const results: Record<string, unknown>[] = [];
  for (const input of batch) results.push(batchResult(await signOne(input), input));
  return { data: { batch_results: results } };
}

async function verifyHandler(keyring: Keyring, request: LogicalRequest, params: Record<string, string>): Promise<HandlerResult> {
  const { data } = request;
  const batch = batchInput(data);
  const inputs = batch ?? [data];
  const withSignature = inputs.filter((input) => has(input, "signature")).length;
  const withHmac = inputs.filter((input) => !has(input, "signature") && has(input, "hmac")).length;
  const missing = inputs.length - withSignature - withHmac;
  if (!batch && has(data, "signature") && has(data, "hmac")) throw new LogicalError(400, "provide one of 'signature' or 'hmac'");
  if (!batch && missing > 0) throw new LogicalError(400, "neither a 'signature' nor an 'hmac' were given to verify");
  if (withSignature > 0 && withHmac > 0) throw new LogicalError(400, "elements of batch_input must all provide 'signature' or all provide 'hmac'");
  if (missing > 0 && withSignature > 0) throw new LogicalError(400, "some elements of batch_input are missing 'signature'");
  if (missing > 0 && withHmac > 0) throw new LogicalError(400, "some elements of batch_input are missing 'hmac'");
  if (missing > 0) throw new LogicalError(400, "no batch_input elements have 'signature' or 'hmac'");
  if (withHmac > 0) return hmacVerify(keyring, request, params, batch);

  const options = signatureOptions(data, params);
  const key = await keyring.get(request.storage, params.name!);
  if (!key) throw new LogicalError(400, "signature verification key not found");
  if (key.info.kind !== "ecdsa" && key.info.kind !== "ed25519" && key.info.kind !== "rsa")
    throw new LogicalError(400, `key type ${key.policy.type} does not support verification`);
  const verifyOne = (input: Record<string, unknown>) =>
    run(async () => ({ valid: await verify(key, decodedContext(input), decodedInput(input), text(input, "signature"), options) }));
  if (!batch) return single(await verifyOne(data));
  const results: Record<string, unknown>[] = [];
  for (const input of batch) results.push(batchResult(await verifyOne(input), input));
  return { data: { batch_results: results } };
}

async function hmacKeyFor(key: LoadedKey, version: number): Promise<Uint8Array> {
  return fromBase64(key.version(version).hmac_key);
}

async function hmacHandler(keyring: Keyring, request: LogicalRequest, params: Record<string, string>): Promise<HandlerResult> {
  const { data } = request;
  const key = await keyring.get(request.storage, params.name!);
  if (!key) throw new LogicalError(400, "encryption key not found");
  const requested = integer(data, "key_version");
  const { min_encryption_version: minimum } = key.policy;
  if (requested !== 0 && requested !== key.policy.latest_version && minimum > 0 && requested < minimum) {
    throw new LogicalError(400, "cannot generate HMAC: version is too old (disallowed by policy)");
  }
  if (requested < 0) throw new LogicalError(400, "key version does not exist (cannot be negative)");
  if (requested > key.policy.latest_version) throw new LogicalError(400, `key version does not exist; latest key version is ${key.policy.latest_version}`);
  const version = requested === 0 ? key.policy.latest_version : requested;
  const algorithm = hashAlgorithmOf(data, params);
  if (algorithm === "none") throw new LogicalError(400, `unsupported algorithm "none"`);
  const macKey = await hmacKeyFor(key, version);
  const batch = batchInput(data);
  if (!batch && !has(data, "input")) throw new LogicalError(400, "missing input for HMAC");
  const macOne = (input: Record<string, unknown>) =>
    run(async () => {
      if (!has(input, "input")) throw new LogicalError(400, "missing input for HMAC");
      return { hmac: `vault:v${version}:${toBase64(await hmac(algorithm, macKey, decodedInput(input)))}` };
    });
  if (!batch) return single(await macOne(data));
  const results: Record<string, unknown>[] = [];
  for (const input of batch) results.push(batchResult(await macOne(input), input));
  return { data: { batch_results: results } };
}

async function hmacVerify(
  keyring: Keyring,
  request: LogicalRequest,
  params: Record<string, string>,
  batch: Record<string, unknown>[] | null,
): Promise<HandlerResult> {
  const { data } = request;
  const key = await keyring.get(request.storage, params.name!);
  if (!key) throw new LogicalError(400, "encryption key not found");
  const algorithm = hashAlgorithmOf(data, params);
  if (algorithm === "none") throw new LogicalError(400, `invalid hash algorithm "none"`);
  const verifyOne = (input: Record<string, unknown>) =>
    run(async () => {
      const message = decodedInput(input);
      const given = text(input, "hmac");
      if (!given.startsWith("vault:v")) throw new LogicalError(400, "invalid HMAC to verify: no prefix");
      const split = splitVersioned(given, "HMAC");
      const decoded = decodeBase64(split.payload);
      if (typeof decoded === "string") throw new LogicalError(400, `unable to decode verification HMAC as base64: ${decoded}`);
      if (split.version > key.policy.latest_version) throw new LogicalError(400, "invalid HMAC: version is too new");
      if (key.policy.min_decryption_version > 0 && split.version < key.policy.min_decryption_version) {
        throw new LogicalError(400, "cannot verify HMAC: version is too old (disallowed by policy)");
      }
      const version = decryptionVersion(key, split.version, "HMAC");
      const expected = await hmac(algorithm, await hmacKeyFor(key, version), message);
      return { valid: constantTimeEqual(expected, decoded) };
    });
  if (!batch) return single(await verifyOne(data));
  const results: Record<string, unknown>[] = [];
  for (const input of batch) results.push(batchResult(await verifyOne(input), input));
  return { data: { batch_results: results } };
}
