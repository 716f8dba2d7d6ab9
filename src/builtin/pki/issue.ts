/**
 * `issue/:role` (key generated here), `sign/:role` (the client's CSR), `sign-verbatim` and their
 * `issuer/:ref/…` forms: a leaf certificate as the role allows it, signed by the issuer, stored
 * under `certs/<serial>` (unless the role says `no_store`) before it is returned.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { effectiveMountTtls, type LeaseTtls } from "../../sdk/lease-ttls.js";
import { formatDuration, formatTime, parseCount, parseFlag, parseNonNegativeDuration } from "../../sdk/fields.js";
import { toBase64 } from "../../sdk/encoding.js";
import { derFromText } from "../../sdk/pem.js";
import { type LogicalRequest, type LogicalResponse, LogicalError, type MountEntry } from "../../sdk/types.js";
import { buildCertificate, certificateSerial, extKeyUsageOid, keyUsageFlags, parseCertificate, type Sans, subjectName, unixSeconds } from "./certs.js";
import { checkKeyParameters, describePublicKey, exportPrivateKey, generateKey, type KeyMaterial, usableKey } from "./keys.js";
import { signerFor, certificateDer } from "./issuers.js";
import { checkIpAddress, checkIpSans, checkUriSans, commonNameAllowed, firstDisallowedName, isDnsName } from "./names.js";
import { parseRole, type RoleEntry, requireRole, signatureBits, stringField, stringList } from "./roles.js";
import { type IssuerEntry, normalizeSerial, PkiStore, writeJson } from "./store.js";

/** Vault's `format`: pem (default), der, or pem_bundle. */
export function outputFormat(data: Record<string, unknown>): "pem" | "der" | "pem_bundle" {
  const format = stringField("format", data.format) || "pem";
  if (format !== "pem" && format !== "der" && format !== "pem_bundle") {
    throw new LogicalError(400, `the "format" path parameter must be "pem", "der", or "pem_bundle"`);
  }
  return format;
}

/** A PEM certificate as the format wants it (der: base64 DER). */
export function formatCertificate(pem: string, format: string): string {
  return format === "der" ? toBase64(certificateDer(pem)) : pem;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
  warnings: string[];
}

/**
 * Vault's notAfter: `not_after` or `ttl`, else the role's ttl, else the mount's default; capped by
 * the role's (or the mount's) max TTL with a warning; then checked against the issuer's own expiry
 * by its `leaf_not_after_behavior`.
 */
export function validity(
  data: Record<string, unknown>,
  limits: { ttl: number; maxTtl: number; notBeforeDuration: number },
  mount: MountEntry,
  system: LeaseTtls,
  issuer?: { certificate: x509.X509Certificate; behavior: IssuerEntry["leaf_not_after_behavior"] },
): Validity {
  const now = Date.now();
  const warnings: string[] = [];
  const mountTtls = effectiveMountTtls(mount.config, system);
  let ttl = parseNonNegativeDuration("ttl", data.ttl) ?? 0;
  const notAfterText = stringField("not_after", data.not_after);
  if (ttl > 0 && notAfterText) throw new LogicalError(400, "Either ttl or not_after should be provided. Both should not be provided in the same request.");
  if (ttl === 0) ttl = limits.ttl || mountTtls.default_lease_ttl;
  const maxTtl = limits.maxTtl || mountTtls.max_lease_ttl;
  if (ttl > maxTtl) {
    warnings.push(`TTL "${formatDuration(ttl)}" is longer than permitted maxTTL "${formatDuration(maxTtl)}", so maxTTL is being used`);
    ttl = maxTtl;
  }
  let notAfter = new Date(now + ttl * 1000);
  if (notAfterText) {
    notAfter = new Date(notAfterText);
    if (!/^\d{4}-\d\d-\d\dT/.test(notAfterText) || Number.isNaN(notAfter.getTime())) {
      throw new LogicalError(400, `parsing time ${JSON.stringify(notAfterText)} as RFC 3339: cannot parse`);
    }
  }
  if (issuer && notAfter > issuer.certificate.notAfter) {
    if (issuer.behavior === "truncate") notAfter = issuer.certificate.notAfter;
    else if (issuer.behavior !== "permit") {
      throw new LogicalError(
        400,
        `cannot satisfy request, as TTL would result in notAfter of ${formatTime(notAfter.getTime())} that is beyond the expiration of the CA certificate at ${formatTime(issuer.certificate.notAfter.getTime())}`,
      );
    }
  }
  return { notBefore: new Date(now - limits.notBeforeDuration * 1000), notAfter, warnings };
}

/** A CSR from its PEM field, signature checked. */
export async function parseCsr(value: unknown): Promise<x509.Pkcs10CertificateRequest> {
  if (typeof value !== "string" || value.trim() === "") throw new LogicalError(400, `"csr" is empty`);
  const der = derFromText(value);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    if (!der) throw new Error("no PEM data found");
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch (error) {
    throw new LogicalError(400, `certificate request could not be parsed: ${(error as Error).message}`);
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new LogicalError(400, "request signature invalid");
  return csr;
}

/** The SANs a CSR asks for. */
export function csrSans(csr: x509.Pkcs10CertificateRequest): Sans {
  const sans: Sans = { dns: [], emails: [], ips: [], uris: [] };
  const extension = csr.extensions.find((e) => e.type === "2.5.29.17");
  if (!extension) return sans;
  for (const name of new x509.SubjectAlternativeNameExtension(extension.rawData).names.items) {
    if (name.type === "dns") sans.dns.push(name.value);
    else if (name.type === "email") sans.emails.push(name.value);
    else if (name.type === "ip") sans.ips.push(name.value);
    else if (name.type === "url") sans.uris.push(name.value);
  }
  return sans;
}

interface IssueOptions {
  /** issue: false (the key is generated here); sign and sign-verbatim: true. */
  useCsr: boolean;
  /** sign-verbatim: the CSR's subject as is, no role checks on names. */
  verbatim: boolean;
}

/** Serves issue, sign and sign-verbatim. `issuerRef` is the path's, or the role's for the legacy paths. */
export async function issueCertificate(
  request: LogicalRequest,
  role: RoleEntry,
  issuerRef: string,
  options: IssueOptions,
  system: LeaseTtls,
): Promise<LogicalResponse> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const format = outputFormat(data);
  const issuer = await store.findIssuer(issuerRef);
  if (!issuer) {
    const reason = issuerRef === "default" ? "no default issuer currently configured" : `unable to find PKI issuer for reference: ${issuerRef}`;
    throw new LogicalError(400, `could not fetch the CA certificate (was one set?): ${reason}`);
  }
  const { signer, certificate: issuerCert } = await signerFor(store, issuer, role.signature_bits);
  const warnings: string[] = [];

  let key: KeyMaterial | undefined;
  let publicKey: CryptoKey | x509.PublicKey;
  let csr: x509.Pkcs10CertificateRequest | undefined;
  if (options.useCsr) {
    csr = await parseCsr(data.csr);
    checkCsrKey(role, csr);
    publicKey = csr.publicKey;
  } else {
    if (role.key_type === "any") {
      throw new LogicalError(400, `role key type "any" not allowed for issuing certificates without providing key_type and/or key_bits request parameters`);
    }
    key = await generateKey(role.key_type as KeyMaterial["type"], checkKeyParameters(role.key_type, role.key_bits));
    publicKey = (await usableKey(key)).publicKey;
  }

  const subject = options.verbatim ? new x509.Name(csr!.subjectName.toArrayBuffer()) : subjectName(subjectFor(role, data, csr));
  const sans = options.verbatim ? csrSans(csr!) : await requestedSans(role, data, csr);
  if (csr && !options.verbatim) {
    if (role.use_csr_common_name && stringField("common_name", data.common_name)) {
      warnings.push(`the common_name field was provided but the role is set with "use_csr_common_name" set to true`);
    }
    if (role.use_csr_sans && stringField("alt_names", data.alt_names)) {
      warnings.push(`the alt_names field was provided but the role is set with "use_csr_sans" set to true`);
    }
  }
  const times = validity(data, { ttl: role.ttl, maxTtl: role.max_ttl, notBeforeDuration: role.not_before_duration }, request.mount, system, {
    certificate: issuerCert,
    behavior: issuer.leaf_not_after_behavior,
  });
  const extKeyUsage = [
    ...(role.server_flag ? [x509.ExtendedKeyUsage.serverAuth] : []),
    ...(role.client_flag ? [x509.ExtendedKeyUsage.clientAuth] : []),
    ...(role.code_signing_flag ? [x509.ExtendedKeyUsage.codeSigning] : []),
    ...(role.email_protection_flag ? [x509.ExtendedKeyUsage.emailProtection] : []),
    ...role.ext_key_usage.flatMap((name) => extKeyUsageOid(name) ?? []),
    ...role.ext_key_usage_oids,
  ];
  const urls = await issuerUrls(store, issuer);
  const certificate = await buildCertificate(
    {
      subject,
      publicKey,
      notBefore: times.notBefore,
      notAfter: times.notAfter,
      sans,
      keyUsage: keyUsageFlags(role.key_usage),
      extKeyUsage: [...new Set(extKeyUsage)],
      leafBasicConstraints: role.basic_constraints_valid_for_non_ca,
      urls,
      policyIdentifiers: role.policy_identifiers,
    },
    signer,
  );
  const serial = certificateSerial(certificate);
  if (!role.no_store) {
    await writeJson(request.storage, `certs/${normalizeSerial(serial)}`, { certificate: toBase64(new Uint8Array(certificate.rawData)), issuer_id: issuer.id });
  }
  const pem = certificate.toString("pem").trim();
  const removeRoots = parseFlag("remove_roots_from_chain", data.remove_roots_from_chain) ?? false;
  const chain = removeRoots ? issuer.ca_chain.filter((pemCert) => !isRoot(pemCert)) : issuer.ca_chain;
  const privateKeyFormat = stringField("private_key_format", data.private_key_format) || "der";
  if (privateKeyFormat !== "der" && privateKeyFormat !== "pkcs8") {
    throw new LogicalError(400, `the "private_key_format" field must be "der" or "pkcs8"`);
  }
  const privateKey = key ? exportPrivateKey(key, privateKeyFormat, format === "der") : undefined;
  const result: Record<string, unknown> = {
    certificate: format === "pem_bundle" ? [privateKey, pem, ...chain].filter(Boolean).join("\n") : formatCertificate(pem, format),
    issuing_ca: formatCertificate(issuer.certificate, format),
    ca_chain: chain.map((pemCert) => formatCertificate(pemCert, format)),
    serial_number: serial,
    expiration: unixSeconds(certificate.notAfter),
    not_before: unixSeconds(certificate.notBefore),
  };
  if (key) {
    result.private_key = privateKey;
    result.private_key_type = key.type;
  }
  const allWarnings = [...warnings, ...times.warnings];
  return { data: result, ...(allWarnings.length > 0 ? { warnings: allWarnings } : {}) };
}

function isRoot(pem: string): boolean {
  const cert = parseCertificate(pem);
  return cert.subject === cert.issuer;
}

/** The issuer's own AIA URLs where it has any, else the mount's `config/urls`. */
export async function issuerUrls(store: PkiStore, issuer: IssuerEntry | null) {
  const urls = await store.urls();
  if (!issuer) return urls;
  return {
    issuing_certificates: issuer.issuing_certificates.length ? issuer.issuing_certificates : urls.issuing_certificates,
    crl_distribution_points: issuer.crl_distribution_points.length ? issuer.crl_distribution_points : urls.crl_distribution_points,
    ocsp_servers: issuer.ocsp_servers.length ? issuer.ocsp_servers : urls.ocsp_servers,
  };
}

function checkCsrKey(role: RoleEntry, csr: x509.Pkcs10CertificateRequest): void {
  const key = describePublicKey(csr.publicKey);
  if (role.key_type === "any") return;
  if (role.key_type !== key.type) throw new LogicalError(400, `role requires keys of type ${role.key_type}`);
  if (key.type !== "ed25519" && key.bits < role.key_bits) {
    throw new LogicalError(400, `role requires a minimum of a ${role.key_bits}-bit key, but CSR's key is ${key.bits} bits`);
  }
}

function subjectFor(role: RoleEntry, data: Record<string, unknown>, csr?: x509.Pkcs10CertificateRequest) {
  let commonName = csr && role.use_csr_common_name ? (csr.subjectName.getField("CN")[0] ?? "") : "";
  if (commonName === "") commonName = stringField("common_name", data.common_name);
  if (commonName === "" && role.require_cn) {
    throw new LogicalError(
      400,
      `the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false`,
    );
  }
  if (commonName !== "" && !commonNameAllowed(role, commonName)) throw new LogicalError(400, `common name ${commonName} not allowed by this role`);
  const serialNumber = stringField("serial_number", data.serial_number) || (csr?.subjectName.getField("2.5.4.5")[0] ?? "");
  return {
    common_name: commonName,
    ou: role.ou,
    organization: role.organization,
    country: role.country,
    locality: role.locality,
    province: role.province,
    street_address: role.street_address,
    postal_code: role.postal_code,
    serial_number: serialNumber,
  };
}

/** The SANs: the CSR's (use_csr_sans) or the request's, plus the common name unless excluded; each checked against the role. */
async function requestedSans(role: RoleEntry, data: Record<string, unknown>, csr?: x509.Pkcs10CertificateRequest): Promise<Sans> {
  const fromCsr = csr && role.use_csr_sans;
  const sans: Sans = fromCsr ? csrSans(csr) : { dns: [], emails: [], ips: [], uris: [] };
  const commonName =
    csr && role.use_csr_common_name
      ? csr.subjectName.getField("CN")[0] || stringField("common_name", data.common_name)
      : stringField("common_name", data.common_name);
  if (commonName && !(parseFlag("exclude_cn_from_sans", data.exclude_cn_from_sans) ?? false)) {
    if (commonName.includes("@")) sans.emails.push(commonName);
    else if (isDnsName(commonName)) sans.dns.push(commonName);
  }
  if (!fromCsr) {
    for (const name of stringList("alt_names", data.alt_names) ?? []) {
      if (name === "") continue;
      if (name.includes("@")) sans.emails.push(name);
      else if (isDnsName(name)) sans.dns.push(name);
    }
    sans.ips = (stringList("ip_sans", data.ip_sans) ?? []).filter((ip) => ip !== "").map(checkIpAddress);
    sans.uris = (stringList("uri_sans", data.uri_sans) ?? []).filter((uri) => uri !== "");
  }
  if ((stringList("other_sans", data.other_sans) ?? []).some((value) => value !== "")) {
    throw new LogicalError(400, "other_sans are not supported by this server");
  }
  sans.dns = [...new Set(sans.dns)];
  sans.emails = [...new Set(sans.emails)];
  const badDns = firstDisallowedName(role, sans.dns);
  if (badDns !== null) throw new LogicalError(400, `subject alternate name ${badDns} not allowed by this role`);
  const badEmail = firstDisallowedName(role, sans.emails);
  if (badEmail !== null) throw new LogicalError(400, `email address ${badEmail} not allowed by this role`);
  const source = fromCsr ? "CSR" : "the API";
  checkIpSans(role, sans.ips, source);
  checkUriSans(role, sans.uris, source);
  return sans;
}

/** sign-verbatim's role: the named role's limits where one is given, otherwise none but the mount's. */
export async function verbatimRole(request: LogicalRequest, roleName: string | undefined): Promise<RoleEntry> {
  const base = roleName ? await requireRole(request.storage, roleName) : undefined;
  const { data } = request;
  const keyUsage = stringList("key_usage", data.key_usage) ?? ["DigitalSignature", "KeyAgreement", "KeyEncipherment"];
  const extKeyUsage = stringList("ext_key_usage", data.ext_key_usage) ?? [];
  return {
    ...(base ?? parseRole({})),
    key_type: "any",
    key_usage: keyUsage,
    ext_key_usage: extKeyUsage,
    ext_key_usage_oids: stringList("ext_key_usage_oids", data.ext_key_usage_oids) ?? [],
    server_flag: false,
    client_flag: false,
    code_signing_flag: false,
    email_protection_flag: false,
    ttl: base?.ttl ?? 0,
    max_ttl: base?.max_ttl ?? 0,
    no_store: base?.no_store ?? false,
    issuer_ref: "default",
    signature_bits: signatureBits("any", parseCount("signature_bits", data.signature_bits) ?? base?.signature_bits ?? 0),
  };
}
