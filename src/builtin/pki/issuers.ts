/**
 * Issuers and keys as Vault 1.11+ has them: any number of each, one of each the default; an issuer
 * is a CA certificate plus (when the engine holds it) its key's id. Chains are rebuilt from every
 * issuer known whenever one is added or removed.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { toBase64 } from "../../sdk/encoding.js";
import { LogicalError } from "../../sdk/types.js";
import { parseCertificate, type Signer, subjectKeyId } from "./certs.js";
import { pemBlocks, pemEncode } from "../../sdk/pem.js";
import { importPrivateKey, type KeyMaterial, publicKeyDer, usableKey } from "./keys.js";
import { checkObjectName, type IssuerEntry, type KeyEntry, newId, type PkiStore, writeJson } from "./store.js";

/** Stores a key under a new id; the first key becomes the default. */
export async function addKey(store: PkiStore, material: KeyMaterial, name: string): Promise<KeyEntry> {
  await checkUniqueName(store, "key", checkObjectName(name, "key"));
  const entry: KeyEntry = { ...material, id: newId(), name };
  await store.putKey(entry);
  if (!(await store.keyConfig()).default) await writeJson(store.storage, "config/keys", { default: entry.id });
  return entry;
}

export async function checkUniqueName(store: PkiStore, what: "issuer" | "key", name: string): Promise<void> {
  if (name === "") return;
  const taken = what === "issuer" ? (await store.issuers()).some((i) => i.name === name) : (await store.keys()).some((k) => k.name === name);
  if (taken) throw new LogicalError(400, `${what} name already in use`);
}

/** The stored key whose public half is this certificate's key, if the engine holds one. */
export async function keyForCertificate(store: PkiStore, certificate: x509.X509Certificate): Promise<KeyEntry | null> {
  const wanted = toBase64(new Uint8Array(certificate.publicKey.rawData));
  for (const key of await store.keys()) {
    if (toBase64(await publicKeyDer(key)) === wanted) return key;
  }
  return null;
}

/**
 * Stores a CA certificate as an issuer (or returns the existing one holding it). The first issuer
 * becomes the default, as does every new one while `default_follows_latest_issuer` is set.
 */
export async function addIssuer(store: PkiStore, pem: string, name: string): Promise<{ issuer: IssuerEntry; existed: boolean }> {
  const certificate = parseCertificate(pem);
  const normalized = certificate.toString("pem").trim();
  const existing = (await store.issuers()).find((issuer) => issuer.certificate === normalized);
  if (existing) return { issuer: existing, existed: true };
  await checkUniqueName(store, "issuer", checkObjectName(name, "issuer"));
  const key = await keyForCertificate(store, certificate);
  const issuer: IssuerEntry = {
    id: newId(),
    name,
    key_id: key?.id ?? "",
    certificate: normalized,
    ca_chain: [normalized],
    manual_chain: null,
    leaf_not_after_behavior: "err",
    usage: "read-only,issuing-certificates,crl-signing,ocsp-signing",
    revocation_signature_algorithm: "",
    issuing_certificates: [],
    crl_distribution_points: [],
    ocsp_servers: [],
  };
  await store.putIssuer(issuer);
  const config = await store.issuerConfig();
  if (!config.default || config.default_follows_latest_issuer) {
    await writeJson(store.storage, "config/issuers", { ...config, default: issuer.id });
  }
  await rebuildChains(store);
  return { issuer: (await store.issuer(issuer.id))!, existed: false };
}

/** Every issuer's `ca_chain`: itself, then the issuer that signed it, up to a self-signed root. */
export async function rebuildChains(store: PkiStore): Promise<void> {
  const issuers = await store.issuers();
  const parsed = new Map<string, { cert: x509.X509Certificate; ski: string }>();
  for (const issuer of issuers) {
    const cert = parseCertificate(issuer.certificate);
    parsed.set(issuer.id, { cert, ski: await subjectKeyId(cert) });
  }
  const parentOf = (id: string): IssuerEntry | undefined => {
    const { cert } = parsed.get(id)!;
    if (isSelfIssued(cert)) return undefined;
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    return issuers.find((candidate) => {
      const other = parsed.get(candidate.id)!;
      return candidate.id !== id && sameName(other.cert.subjectName, cert.issuerName) && (!aki || aki === other.ski);
    });
  };
  for (const issuer of issuers) {
    const chain = [issuer.certificate];
    const seen = new Set([issuer.id]);
    for (let parent = parentOf(issuer.id); parent && !seen.has(parent.id); parent = parentOf(parent.id)) {
      chain.push(parent.certificate);
      seen.add(parent.id);
    }
    const ca_chain = issuer.manual_chain ?? chain;
    if (ca_chain.join() !== issuer.ca_chain.join()) await store.putIssuer({ ...issuer, ca_chain });
  }
}

function isSelfIssued(cert: x509.X509Certificate): boolean {
  return sameName(cert.subjectName, cert.issuerName);
}

function sameName(a: x509.Name, b: x509.Name): boolean {
  return toBase64(new Uint8Array(a.toArrayBuffer())) === toBase64(new Uint8Array(b.toArrayBuffer()));
}

/** The key and names to sign with as `issuer`; 400 when the engine holds no key for it. */
export async function signerFor(store: PkiStore, issuer: IssuerEntry, signatureBits = 0): Promise<{ signer: Signer; certificate: x509.X509Certificate }> {
  const key = issuer.key_id ? await store.key(issuer.key_id) : null;
  if (!key) throw new LogicalError(400, `unable to fetch corresponding key for issuer ${issuer.id}; unable to use this issuer for signing`);
  const certificate = parseCertificate(issuer.certificate);
  return {
    signer: { name: certificate.subjectName, key: await usableKey(key, signatureBits), keyId: await subjectKeyId(certificate) },
    certificate,
  };
}

export interface ImportResult {
  imported_issuers: string[] | null;
  imported_keys: string[] | null;
  mapping: Record<string, string>;
  existing_issuers: string[] | null;
  existing_keys: string[] | null;
}

/** `config/ca`, `intermediate/set-signed`, `issuers/import/*`: every key and CA certificate in a PEM bundle. */
export async function importBundle(store: PkiStore, bundle: unknown, field: string): Promise<ImportResult> {
  if (typeof bundle !== "string" || bundle.trim() === "") throw new LogicalError(400, `no data found in ${field}`);
  const blocks = pemBlocks(bundle);
  if (blocks.length === 0) throw new LogicalError(400, `no data found in ${field}`);
  const result: ImportResult = { imported_issuers: null, imported_keys: null, mapping: {}, existing_issuers: null, existing_keys: null };
  const push = (list: keyof Omit<ImportResult, "mapping">, id: string) => {
    result[list] = [...(result[list] ?? []), id];
  };
  for (const block of blocks.filter((b) => b.label.endsWith("PRIVATE KEY"))) {
    const material = await importPrivateKey(pemEncode(block.der, block.label));
    const existing = (await store.keys()).find((key) => key.pkcs8 === material.pkcs8);
    if (existing) push("existing_keys", existing.id);
    else push("imported_keys", (await addKey(store, material, "")).id);
  }
  for (const block of blocks.filter((b) => b.label === "CERTIFICATE")) {
    const certificate = parseCertificate(block.der);
    const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
    if (!constraints?.ca) continue; // Vault imports CA certificates only; a leaf in the bundle is skipped
    const { issuer, existed } = await addIssuer(store, pemEncode(new Uint8Array(certificate.rawData), "CERTIFICATE"), "");
    push(existed ? "existing_issuers" : "imported_issuers", issuer.id);
    result.mapping[issuer.id] = issuer.key_id;
  }
  if (!result.imported_issuers && !result.existing_issuers && !result.imported_keys && !result.existing_keys) {
    throw new LogicalError(400, "no CA certificates or private keys found in the bundle");
  }
  return result;
}

/** Vault's JSON for an issuer (`issuer/:ref` reads and writes). */
export function issuerData(issuer: IssuerEntry): Record<string, unknown> {
  return {
    issuer_id: issuer.id,
    issuer_name: issuer.name,
    key_id: issuer.key_id,
    certificate: `${issuer.certificate}\n`,
    ca_chain: issuer.ca_chain.map((pem) => `${pem}\n`),
    manual_chain: issuer.manual_chain,
    leaf_not_after_behavior: issuer.leaf_not_after_behavior,
    usage: issuer.usage,
    revocation_signature_algorithm: issuer.revocation_signature_algorithm,
    revoked: false,
    issuing_certificates: issuer.issuing_certificates,
    crl_distribution_points: issuer.crl_distribution_points,
    ocsp_servers: issuer.ocsp_servers,
    enable_aia_url_templating: false,
  };
}

/** DER of a stored PEM certificate. */
export function certificateDer(pem: string): Uint8Array {
  return pemBlocks(pem)[0]!.der;
}
