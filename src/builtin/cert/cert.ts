/**
 * The TLS certificate auth method (Vault's `auth/cert`): trusted certificates (`certs/<name>`, a CA
 * or a single leaf, with constraints and token fields), CRLs (`crls/<name>`), `config`, and `login`,
 * which matches the client certificate chain the listener received against them. Layout in the
 * mount's storage (names lower-cased, as Vault keeps them): `cert/<name>`, `crls/<name>`, `config`.
 */
import type * as x509 from "@peculiar/x509";
import { addressInBlocks, parseCidrList } from "../../sdk/cidr.js";
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { parseCount, parseFlag } from "../../sdk/fields.js";
import { canonicalName, requireCanonicalName } from "../../sdk/names.js";
import { listResponse, notFound } from "../../sdk/responses.js";
import { LogicalError, permissionDenied, type Storage } from "../../sdk/types.js";
import { type AuthRenewRequest, type AuthRequest, authMethod, type LoginGrant } from "../../sdk/auth.js";
import type { Params } from "../../sdk/framework.js";
import { defaultTokenSettings, policyList, stringList, type TokenSettings, updateTokenSettings } from "../../sdk/token-settings.js";
import {
  chainsToAnchors,
  colonHex,
  commonName,
  decimalSerial,
  extensionText,
  isCa,
  keyIdentifiers,
  type LeafConstraints,
  meetsConstraints,
  parsePemCertificates,
  parseTrustedPem,
  revokedSerials,
} from "./chain.js";

interface CertEntry extends TokenSettings, LeafConstraints {
  certificate: string;
  display_name: string;
  allowed_metadata_extensions: string[];
}

interface CertConfig {
  disable_binding: boolean;
  enable_identity_alias_metadata: boolean;
  enable_metadata_on_failures: boolean;
  ocsp_cache_size: number;
  role_cache_size: number;
}

interface StoredCrl {
  serials: Record<string, Record<string, never>>;
}

const CERT_NAME = "name";
const CONSTRAINT_FIELDS = [
  "allowed_names",
  "allowed_common_names",
  "allowed_dns_sans",
  "allowed_email_sans",
  "allowed_uri_sans",
  "allowed_organizational_units",
  "required_extensions",
  "allowed_metadata_extensions",
] as const;
const DEFAULT_CONFIG: CertConfig = {
  disable_binding: false,
  enable_identity_alias_metadata: false,
  enable_metadata_on_failures: false,
  ocsp_cache_size: 100,
  role_cache_size: 200,
};

const NO_TRUSTED_CHAIN = "invalid certificate or no client certificate supplied";
const NO_MATCHING_CHAIN = "no chain matching all constraints could be found for this login certificate";

/** The name segment of `certs/<name>` and `crls/<name>`, canonical before the ACL sees it. */
const NAMED_PATH = /^(certs|crls)\/([^/]+)(\/?)$/;

export const cert = authMethod({
  canonicalPath(path) {
    const match = NAMED_PATH.exec(path);
    return match ? `${match[1]}/${canonicalName(match[2]!, CERT_NAME)}` : path;
  },
  endpoints: [
    { pattern: "certs/", operations: { list: ({ storage }) => listKeys(storage, "cert/") } },
    { pattern: "certs", operations: { list: ({ storage }) => listKeys(storage, "cert/") } },
    {
      pattern: "certs/:name",
      exists: async ({ storage }, { name }) => (await readEntry(storage, requireCanonicalName(name!, CERT_NAME))) !== null,
      operations: { read: readCert, update: writeCert, delete: deleteCert },
    },
    { pattern: "crls", operations: { list: ({ storage }) => listKeys(storage, "crls/") } },
    { pattern: "crls/", operations: { list: ({ storage }) => listKeys(storage, "crls/") } },
    { pattern: "crls/:name", operations: { read: readCrl, update: writeCrl, delete: deleteCrl } },
    { pattern: "config", operations: { read: async ({ storage }) => ({ data: { ...(await readConfig(storage)) } }), update: writeConfig } },
  ],
  logins: [{ pattern: "login", operations: { update: login } }],
  renew,
});

async function listKeys(storage: Storage, prefix: string) {
  return listResponse((await storage.list(prefix)).filter((key) => !key.endsWith("/")));
}

async function readEntry(storage: Storage, name: string): Promise<CertEntry | null> {
  const bytes = await storage.get(`cert/${name}`);
  return bytes ? decodeJson<CertEntry>(bytes) : null;
}

async function readConfig(storage: Storage): Promise<CertConfig> {
  const bytes = await storage.get("config");
  return bytes ? { ...DEFAULT_CONFIG, ...decodeJson<Partial<CertConfig>>(bytes) } : { ...DEFAULT_CONFIG };
}

async function readCert({ storage }: AuthRequest, { name }: Params) {
  const entry = await readEntry(storage, requireCanonicalName(name!, CERT_NAME));
  if (!entry) throw notFound();
  return { data: { ...entry, ocsp_enabled: false, ocsp_ca_certificates: "", ocsp_servers_override: [], ocsp_fail_open: false, ocsp_query_all_servers: false } };
}

async function writeCert({ storage, data }: AuthRequest, { name: raw }: Params) {
  const name = requireCanonicalName(raw!, CERT_NAME);
  const existing = await readEntry(storage, name);
  if (parseFlag("ocsp_enabled", data.ocsp_enabled)) {
    throw new LogicalError(400, `"ocsp_enabled" is not supported: Strongbox's cert method checks revocation with CRLs (crls/<name>) only`);
  }
  const certificate = data.certificate ?? existing?.certificate;
  if (typeof certificate !== "string" || certificate.trim() === "") throw new LogicalError(400, "missing certificate");
  if (parsePemCertificates(certificate).length === 0) throw new LogicalError(400, "failed to parse certificate");
  const constraints = Object.fromEntries(
    CONSTRAINT_FIELDS.map((field) => [field, data[field] === undefined ? (existing?.[field] ?? []) : stringList(field, data[field])]),
  ) as Pick<CertEntry, (typeof CONSTRAINT_FIELDS)[number]>;
  const malformed = constraints.required_extensions.find((required) => !/^\d+(\.\d+)+:/.test(required));
  if (malformed !== undefined) throw new LogicalError(400, `invalid required_extensions value ${JSON.stringify(malformed)}: expected "oid:value"`);
  const settings = updateTokenSettings(existing ?? defaultTokenSettings(), data, true);
  const displayName = typeof data.display_name === "string" ? data.display_name : (existing?.display_name ?? name);
  const entry: CertEntry = { ...settings, ...constraints, certificate, display_name: displayName || name };
  await storage.put(`cert/${name}`, encodeJson(entry));
  return null;
}

async function deleteCert({ storage }: AuthRequest, { name }: Params) {
  await storage.delete(`cert/${requireCanonicalName(name!, CERT_NAME)}`);
  return null;
}

async function readCrl({ storage }: AuthRequest, { name }: Params) {
  const bytes = await storage.get(`crls/${canonicalName(name!, CERT_NAME)}`);
  if (!bytes) throw notFound();
  return { data: { ...decodeJson<StoredCrl>(bytes) } };
}

async function writeCrl({ storage, data }: AuthRequest, { name }: Params) {
  if (typeof data.crl !== "string" || data.crl.trim() === "") throw new LogicalError(400, "parameter crl is not set");
  const serials = revokedSerials(data.crl.trim());
  if (!serials) throw new LogicalError(400, "failed to parse CRL");
  const stored: StoredCrl = { serials: Object.fromEntries(serials.map((serial) => [serial, {}])) };
  await storage.put(`crls/${canonicalName(name!, CERT_NAME)}`, encodeJson(stored));
  return null;
}

async function deleteCrl({ storage }: AuthRequest, { name }: Params) {
  await storage.delete(`crls/${canonicalName(name!, CERT_NAME)}`);
  return null;
}

async function writeConfig({ storage, data }: AuthRequest) {
  const current = await readConfig(storage);
  const next: CertConfig = {
    disable_binding: parseFlag("disable_binding", data.disable_binding) ?? current.disable_binding,
    enable_identity_alias_metadata: parseFlag("enable_identity_alias_metadata", data.enable_identity_alias_metadata) ?? current.enable_identity_alias_metadata,
    enable_metadata_on_failures: parseFlag("enable_metadata_on_failures", data.enable_metadata_on_failures) ?? current.enable_metadata_on_failures,
    ocsp_cache_size: parseCount("ocsp_cache_size", data.ocsp_cache_size) ?? current.ocsp_cache_size,
    role_cache_size: parseCount("role_cache_size", data.role_cache_size) ?? current.role_cache_size,
  };
  if (next.ocsp_cache_size < 2) throw new LogicalError(400, "invalid cache size, must be >= 2 and <= 2^31");
  await storage.put("config", encodeJson(next));
  return null;
}

/**
 * Vault's cert login: the leaf (the first certificate the client sent) must be one of the trusted
 * leaf entries byte for byte, or chain through the certificates it sent to a trusted CA entry; the
 * first entry (by name) whose constraints the leaf meets and whose chain no CRL revokes wins.
 */
async function login(request: AuthRequest): Promise<LoginGrant> {
  const { storage, data, clientCertificates, clientAddress } = request;
  const presented = parseChain(clientCertificates ?? []);
  if (presented.length === 0) throw new LogicalError(400, "client certificate must be supplied");
  const [leaf, ...intermediates] = presented as [x509.X509Certificate, ...x509.X509Certificate[]];
  const only = typeof data.name === "string" && data.name !== "" ? canonicalName(data.name, CERT_NAME) : null;
  const names = only !== null ? [only] : (await storage.list("cert/")).filter((key) => !key.endsWith("/")).sort();
  const revoked = await revokedSet(storage);
  const now = new Date(request.now);
  let trusted = false;
  for (const name of names) {
    const entry = await readEntry(storage, name);
    if (!entry) continue;
    const verdict = await judge(entry, leaf, intermediates, revoked, now);
    if (verdict === "untrusted") continue;
    trusted = true;
    if (verdict !== "accepted") continue;
    if (entry.token_bound_cidrs.length > 0 && !addressInBlocks(clientAddress, parseCidrList(entry.token_bound_cidrs, "token_bound_cidrs"))) {
      throw permissionDenied();
    }
    return grantFor(name, entry, leaf, await readConfig(storage));
  }
  throw new LogicalError(400, trusted ? NO_MATCHING_CHAIN : NO_TRUSTED_CHAIN);
}

/** Whether `entry` trusts the presented chain ("untrusted"), and if so whether it accepts this leaf (constraints, CRLs). */
async function judge(
  entry: CertEntry,
  leaf: x509.X509Certificate,
  intermediates: x509.X509Certificate[],
  revoked: Set<string>,
  now: Date,
): Promise<"untrusted" | "refused" | "accepted"> {
  const chains = await trustedChains(leaf, intermediates, parseTrustedPem(entry.certificate), now);
  if (chains.length === 0) return "untrusted";
  if (!meetsConstraints(leaf, entry)) return "refused";
  return chains.every((chain) => chain.some((link) => revoked.has(decimalSerial(link)))) ? "refused" : "accepted";
}

/**
 * Vault's renewal check: the entry still exists with the token's policies and, unless
 * `disable_binding`, the renewal presents a certificate the entry still accepts, with the key
 * identifiers of the one the token logged in with (both: stricter than Vault, which takes either).
 */
async function renew({ storage, metadata, policies, clientCertificates, now }: AuthRenewRequest): Promise<void> {
  const name = metadata.cert_name ?? "";
  const entry = name === "" ? null : await readEntry(storage, name);
  if (!entry) throw new LogicalError(400, `certificate entry ${JSON.stringify(name)} no longer exists; not renewing`);
  if (!(await readConfig(storage)).disable_binding) {
    const [leaf, ...intermediates] = parseChain(clientCertificates ?? []);
    if (!leaf) throw new LogicalError(400, "no client certificate found");
    if ((await judge(entry, leaf, intermediates, await revokedSet(storage), new Date(now))) !== "accepted") throw new LogicalError(400, NO_MATCHING_CHAIN);
    const ids = keyIdentifiers(leaf);
    if (colonHex(ids.subject) !== metadata.subject_key_id || colonHex(ids.authority) !== metadata.authority_key_id) {
      throw new LogicalError(400, "client identity during renewal not matching client identity used during login");
    }
  }
  const withoutDefault = (list: string[]) => policyList(list.filter((policy) => policy !== "default")).join(",");
  if (withoutDefault(entry.token_policies) !== withoutDefault(policies)) throw new LogicalError(400, "policies have changed, not renewing");
}

async function trustedChains(leaf: x509.X509Certificate, intermediates: x509.X509Certificate[], entryCerts: x509.X509Certificate[], now: Date) {
  // A non-CA entry trusts exactly that certificate.
  if (entryCerts.some((trusted) => !isCa(trusted) && trusted.equal(leaf))) {
    return leaf.notBefore <= now && now <= leaf.notAfter ? [[leaf]] : [];
  }
  return chainsToAnchors(leaf, intermediates, entryCerts, now);
}

function parseChain(ders: Uint8Array[]): x509.X509Certificate[] {
  const certificates: x509.X509Certificate[] = [];
  for (const der of ders) {
    const parsed = parsePemCertificates(toPem(der));
    if (parsed.length !== 1) throw new LogicalError(400, NO_TRUSTED_CHAIN);
    certificates.push(parsed[0]!);
  }
  return certificates;
}

function toPem(der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  return `-----BEGIN CERTIFICATE-----\n${btoa(binary)}\n-----END CERTIFICATE-----`;
}

async function revokedSet(storage: Storage): Promise<Set<string>> {
  const revoked = new Set<string>();
  for (const name of await storage.list("crls/")) {
    const bytes = await storage.get(`crls/${name}`);
    if (bytes) for (const serial of Object.keys(decodeJson<StoredCrl>(bytes).serials)) revoked.add(serial);
  }
  return revoked;
}

function grantFor(name: string, entry: CertEntry, leaf: x509.X509Certificate, config: CertConfig): LoginGrant {
  const {
    certificate: _c,
    display_name,
    allowed_names: _n,
    allowed_common_names: _cn,
    allowed_dns_sans: _d,
    allowed_email_sans: _e,
    allowed_uri_sans: _u,
    allowed_organizational_units: _o,
    required_extensions: _r,
    allowed_metadata_extensions,
    ...settings
  } = entry;
  const metadata: Record<string, string> = {
    // As Vault: each allowed extension under its OID with dashes (policy templates cannot take dots), "" when absent.
    ...Object.fromEntries(allowed_metadata_extensions.map((oid) => [oid.replaceAll(".", "-"), extensionText(leaf, oid) ?? ""])),
    cert_name: name,
    common_name: commonName(leaf),
    serial_number: decimalSerial(leaf),
    subject_key_id: colonHex(keyIdentifiers(leaf).subject),
    authority_key_id: colonHex(keyIdentifiers(leaf).authority),
  };
  return {
    settings,
    metadata,
    displayName: display_name,
    alias: { name: commonName(leaf), ...(config.enable_identity_alias_metadata && { metadata }) },
  };
}
