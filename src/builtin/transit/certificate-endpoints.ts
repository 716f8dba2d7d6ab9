/** `keys/:name/csr` and `keys/:name/set-certificate` (Vault 1.15+): a request signed by a key version, and the chain issued for it. */
import type { Endpoint } from "../../sdk/framework.js";
import { type HandlerResult, type LogicalRequest, LogicalError } from "../../sdk/types.js";
import { certificateRequest, parseCertificateChain, parseRequestTemplate, withCertificateChain } from "./certificates.js";
import { has, integer, text } from "./inputs.js";
import { type Keyring, LoadedKey, type StoredPolicy } from "./keyring.js";
import { supportsSigning } from "./material.js";

export function certificateEndpoints(keyring: Keyring): Endpoint<LogicalRequest>[] {
  return [
    { pattern: "keys/:name/csr", operations: { update: (request, { name }) => createCsr(keyring, request, name!) } },
    { pattern: "keys/:name/set-certificate", operations: { update: (request, { name }) => setCertificate(keyring, request, name!) } },
  ];
}

async function createCsr(keyring: Keyring, { storage, data }: LogicalRequest, name: string): Promise<HandlerResult> {
  const key = await keyring.get(storage, name);
  if (!key) throw new LogicalError(400, `key with provided name '${name}' not found`);
  requireSigningKey(key, `key type '${key.policy.type}' does not support signing`);
  const version = has(data, "version") ? integer(data, "version") : key.policy.latest_version;
  const template = parseRequestTemplate(text(data, "csr"));
  return { data: { name: key.policy.name, type: key.policy.type, csr: await certificateRequest(key, version, template) } };
}

async function setCertificate(keyring: Keyring, { storage, data }: LogicalRequest, name: string): Promise<HandlerResult> {
  const chainText = text(data, "certificate_chain");
  // Under the key's lock, so the chain lands on the version as it is stored now.
  const policy = await keyring.update<StoredPolicy>(storage, name, async (current) => {
    if (!current) throw new LogicalError(400, `key with provided name '${name}' not found`);
    const key = new LoadedKey(current);
    requireSigningKey(key, `key type ${current.type} does not support signing`);
    const version = has(data, "version") ? integer(data, "version") : current.latest_version;
    const entry = withCertificateChain(key, version, parseCertificateChain(chainText));
    const next = { ...current, keys: { ...current.keys, [String(version)]: entry } };
    return { policy: next, result: next };
  });
  return { data: { name: policy.name, type: policy.type, "certificate-chain": chainText } };
}

/** Vault's refusals for a key that cannot hold a certificate (`unsupported` differs between the two endpoints). */
function requireSigningKey(key: LoadedKey, unsupported: string): void {
  if (!supportsSigning(key.info)) throw new LogicalError(400, unsupported);
  if (key.policy.derived) throw new LogicalError(400, "operation not supported on keys with derivation enabled");
}
