/**
 * Managing issuers and keys (Vault 1.11+): `issuers`, `issuer/:ref`, `config/issuers` and
 * `root/replace` (which issuer is the default: how a rotated root takes over), `keys`, `key/:ref`,
 * `keys/generate/:type`, `keys/import`, `config/keys`; and `config/urls`.
 */
import { parseCount, parseFlag } from "../../sdk/fields.js";
import type { Endpoint } from "../../sdk/framework.js";
import { listResponse } from "../../sdk/responses.js";
import { AsnConvert } from "@peculiar/asn1-schema";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { type LogicalRequest, LogicalError, type LogicalResponse } from "../../sdk/types.js";
import { certificateSerial, parseCertificate } from "./certs.js";
import { checkKeyParameters, exportPrivateKey, generateKey, importPrivateKey, type KeyMaterial, publicKeyDer } from "./keys.js";
import { rebuildCrl } from "./crl.js";
import { addKey, issuerData, keyForCertificate, rebuildChains } from "./issuers.js";
import { stringField, stringList } from "./roles.js";
import { checkObjectName, DEFAULT_URLS, type IssuerEntry, type KeyEntry, PkiStore, type UrlsConfig, writeJson } from "./store.js";

const LEAF_BEHAVIORS = new Set(["err", "truncate", "permit"]);
const USAGES = new Set(["read-only", "issuing-certificates", "crl-signing", "ocsp-signing"]);

async function listIssuers({ storage }: LogicalRequest): Promise<LogicalResponse> {
  const store = new PkiStore(storage);
  const { default: defaultId } = await store.issuerConfig();
  const issuers = await store.issuers();
  const key_info: Record<string, unknown> = {};
  for (const issuer of issuers) {
    key_info[issuer.id] = {
      issuer_name: issuer.name,
      is_default: issuer.id === defaultId,
      key_id: issuer.key_id,
      serial_number: certificateSerial(parseCertificate(issuer.certificate)),
    };
  }
  return { data: { keys: issuers.map((issuer) => issuer.id), key_info } };
}

async function updateIssuer(request: LogicalRequest, ref: string): Promise<LogicalResponse> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const issuer: IssuerEntry = { ...(await store.resolveIssuer(ref)) };
  if (data.issuer_name !== undefined) {
    const name = checkObjectName(stringField("issuer_name", data.issuer_name), "issuer");
    if (name !== "" && (await store.issuers()).some((other) => other.name === name && other.id !== issuer.id)) {
      throw new LogicalError(400, "issuer name already in use");
    }
    issuer.name = name;
  }
  if (data.leaf_not_after_behavior !== undefined) {
    const behavior = stringField("leaf_not_after_behavior", data.leaf_not_after_behavior);
    if (!LEAF_BEHAVIORS.has(behavior)) throw new LogicalError(400, `Unknown leaf not after behavior: ${behavior}`);
    issuer.leaf_not_after_behavior = behavior as IssuerEntry["leaf_not_after_behavior"];
  }
  if (data.usage !== undefined) {
    const usage = stringList("usage", data.usage) ?? [];
    for (const item of usage) if (!USAGES.has(item)) throw new LogicalError(400, `Unable to parse specified usages: unknown usage: ${item}`);
    issuer.usage = usage.join(",");
  }
  for (const field of ["issuing_certificates", "crl_distribution_points", "ocsp_servers"] as const) {
    if (data[field] !== undefined) issuer[field] = checkUrls(field, stringList(field, data[field]) ?? []);
  }
  if (data.manual_chain !== undefined) {
    const refs = (stringList("manual_chain", data.manual_chain) ?? []).filter((r) => r !== "");
    issuer.manual_chain = refs.length === 0 || (refs.length === 1 && refs[0] === "self") ? null : await manualChain(store, issuer, refs);
  }
  await store.putIssuer(issuer);
  await rebuildChains(store);
  return { data: issuerData((await store.issuer(issuer.id))!) };
}

async function manualChain(store: PkiStore, issuer: IssuerEntry, refs: string[]): Promise<string[]> {
  const chain: string[] = [];
  for (const ref of refs) chain.push(ref === "self" ? issuer.certificate : (await store.resolveIssuer(ref)).certificate);
  if (chain[0] !== issuer.certificate) throw new LogicalError(400, "expected first cert in chain to be a self-reference");
  return chain;
}

function checkUrls(field: string, urls: string[]): string[] {
  const kept = urls.filter((url) => url !== "");
  for (const url of kept) {
    if (!URL.canParse(url)) throw new LogicalError(400, `invalid URL found in ${field}: ${url}`);
  }
  return kept;
}

async function deleteIssuer(request: LogicalRequest, ref: string): Promise<LogicalResponse | null> {
  const store = new PkiStore(request.storage);
  const issuer = await store.findIssuer(ref);
  if (!issuer) return null;
  await request.storage.delete(`config/issuer/${issuer.id}`);
  await request.storage.delete(`crls/${issuer.id}`);
  const config = await store.issuerConfig();
  let warnings: string[] | undefined;
  if (config.default === issuer.id) {
    await writeJson(request.storage, "config/issuers", { ...config, default: "" });
    warnings = ["Deleted issuer was the default issuer; a new default issuer has not been set"];
  }
  await rebuildChains(store);
  return warnings ? { warnings } : null;
}

async function setDefaultIssuer(request: LogicalRequest): Promise<LogicalResponse> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const config = await store.issuerConfig();
  const ref = stringField("default", data.default);
  if (ref !== "") config.default = (await store.resolveIssuer(ref)).id;
  config.default_follows_latest_issuer = parseFlag("default_follows_latest_issuer", data.default_follows_latest_issuer) ?? config.default_follows_latest_issuer;
  await writeJson(request.storage, "config/issuers", config);
  const issuer = await store.issuer(config.default);
  if (issuer) await rebuildCrl(store, issuer, request.mount.uuid);
  return { data: { ...config } };
}

async function keyData(key: KeyEntry): Promise<Record<string, unknown>> {
  const spki = await publicKeyDer(key);
  // The SKI as RFC 5280 method 1 computes it: SHA-1 of the subjectPublicKey bits.
  const bits = AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey;
  const ski = new Uint8Array(await crypto.subtle.digest("SHA-1", bits));
  return {
    key_id: key.id,
    key_name: key.name,
    key_type: key.type,
    subject_key_id: Array.from(ski, (b) => b.toString(16).padStart(2, "0")).join(":"),
  };
}

async function generateManagedKey(request: LogicalRequest, type: string): Promise<LogicalResponse> {
  if (type !== "internal" && type !== "exported") {
    if (type === "kms") throw new LogicalError(400, "managed keys (kms) are not supported by this server");
    throw new LogicalError(400, `the "type" path parameter must be "internal", "exported" or "kms"`);
  }
  const { data } = request;
  const keyType = stringField("key_type", data.key_type, "rsa");
  const bits = checkKeyParameters(keyType, parseCount("key_bits", data.key_bits) ?? 0);
  const key = await addKey(new PkiStore(request.storage), await generateKey(keyType as KeyMaterial["type"], bits), stringField("key_name", data.key_name));
  const result = await keyData(key);
  if (type === "exported") result.private_key = exportPrivateKey(key, "der", false);
  return { data: result };
}

async function importKey(request: LogicalRequest): Promise<LogicalResponse> {
  const store = new PkiStore(request.storage);
  const material = await importPrivateKey(stringField("pem_bundle", request.data.pem_bundle));
  if ((await store.keys()).some((key) => key.pkcs8 === material.pkcs8)) throw new LogicalError(400, "key already exists");
  const key = await addKey(store, material, stringField("key_name", request.data.key_name));
  // An issuer imported before its key now gains it.
  for (const issuer of await store.issuers()) {
    if (!issuer.key_id && (await keyForCertificate(store, parseCertificate(issuer.certificate)))?.id === key.id) {
      await store.putIssuer({ ...issuer, key_id: key.id });
    }
  }
  return { data: await keyData(key) };
}

async function deleteKey(request: LogicalRequest, ref: string): Promise<null> {
  const store = new PkiStore(request.storage);
  const key = await store.resolveKey(ref).catch(() => null);
  if (!key) return null;
  const user = (await store.issuers()).find((issuer) => issuer.key_id === key.id);
  if (user) throw new LogicalError(400, `unable to delete key: key is in use by issuer ${user.id}`);
  await request.storage.delete(`config/key/${key.id}`);
  const config = await store.keyConfig();
  if (config.default === key.id) await writeJson(request.storage, "config/keys", { default: "" });
  return null;
}

function urlsData(urls: UrlsConfig): Record<string, unknown> {
  return { ...urls };
}

export const manageEndpoints: Endpoint<LogicalRequest>[] = [
  { pattern: "issuers", unauthenticated: true, operations: { list: listIssuers } },
  {
    pattern: "issuer/:ref",
    operations: {
      read: async ({ storage }, { ref }) => ({ data: issuerData(await new PkiStore(storage).resolveIssuer(ref!)) }),
      update: (request, { ref }) => updateIssuer(request, ref!),
      delete: (request, { ref }) => deleteIssuer(request, ref!),
    },
  },
  {
    pattern: "config/issuers",
    operations: {
      read: async ({ storage }) => ({ data: { ...(await new PkiStore(storage).issuerConfig()) } }),
      update: setDefaultIssuer,
    },
  },
  { pattern: "root/replace", operations: { update: setDefaultIssuer } },
  {
    pattern: "keys",
    operations: {
      list: async ({ storage }) => {
        const keys = await new PkiStore(storage).keys();
        const response = listResponse(keys.map((key) => key.id));
        response.data!.key_info = Object.fromEntries(keys.map((key) => [key.id, { key_name: key.name, key_type: key.type }]));
        return response;
      },
    },
  },
  { pattern: "keys/generate/:type", operations: { update: (request, { type }) => generateManagedKey(request, type!) } },
  { pattern: "keys/import", operations: { update: importKey } },
  {
    pattern: "key/:ref",
    operations: {
      read: async ({ storage }, { ref }) => ({ data: await keyData(await new PkiStore(storage).resolveKey(ref!)) }),
      update: async ({ storage, data }, { ref }) => {
        const store = new PkiStore(storage);
        const key = { ...(await store.resolveKey(ref!)) };
        const name = checkObjectName(stringField("key_name", data.key_name), "key");
        if (name !== "" && (await store.keys()).some((other) => other.name === name && other.id !== key.id))
          throw new LogicalError(400, "key name already in use");
        key.name = name;
        await store.putKey(key);
        return { data: await keyData(key) };
      },
      delete: (request, { ref }) => deleteKey(request, ref!),
    },
  },
  {
    pattern: "config/keys",
    operations: {
      read: async ({ storage }) => ({ data: { ...(await new PkiStore(storage).keyConfig()) } }),
      update: async ({ storage, data }) => {
        const store = new PkiStore(storage);
        const key = await store.resolveKey(stringField("default", data.default));
        await writeJson(storage, "config/keys", { default: key.id });
        return { data: { default: key.id } };
      },
    },
  },
  {
    pattern: "config/urls",
    operations: {
      read: async ({ storage }) => ({ data: urlsData(await new PkiStore(storage).urls()) }),
      update: async ({ storage, data }) => {
        const urls: UrlsConfig = { ...DEFAULT_URLS, ...(await new PkiStore(storage).urls()) };
        for (const field of ["issuing_certificates", "crl_distribution_points", "ocsp_servers"] as const) {
          if (data[field] !== undefined) urls[field] = checkUrls(field, stringList(field, data[field]) ?? []);
        }
        urls.enable_templating = parseFlag("enable_templating", data.enable_templating) ?? urls.enable_templating;
        await writeJson(storage, "config/urls", urls);
        return { data: urlsData(urls) };
      },
    },
  },
];
