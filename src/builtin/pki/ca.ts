/**
 * Making CAs: `root/generate/:type` (and `root/rotate/:type`), `intermediate/generate/:type` (a
 * CSR), `root/sign-intermediate`, `intermediate/set-signed`, `config/ca` and `issuers/import/*`,
 * `root/sign-self-issued`, and `root` delete.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { toBase64 } from "../../sdk/encoding.js";
import { parseCount, parseFlag, parseNonNegativeDuration } from "../../sdk/fields.js";
import type { Endpoint } from "../../sdk/framework.js";
import type { LeaseTtls } from "../../sdk/lease-ttls.js";
import { type LogicalRequest, LogicalError, type LogicalResponse } from "../../sdk/types.js";
import { buildCertificate, certificateSerial, type Sans, type Signer, subjectName, unixSeconds } from "./certs.js";
import { rebuildCrl } from "./crl.js";
import { derFromText, pemEncode } from "../../sdk/pem.js";
import { checkKeyParameters, exportPrivateKey, generateKey, type KeyMaterial, usableKey } from "./keys.js";
import { csrSans, formatCertificate, issuerUrls, outputFormat, parseCsr, validity } from "./issue.js";
import { addIssuer, addKey, checkUniqueName, importBundle, signerFor } from "./issuers.js";
import { checkIpAddress, isDnsName } from "./names.js";
import { signatureBits, stringField, stringList } from "./roles.js";
import { checkObjectName, type KeyEntry, normalizeSerial, PkiStore, writeJson } from "./store.js";

const NO_AIA_WARNING =
  "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";

function generationType(type: string): "internal" | "exported" | "existing" {
  if (type === "internal" || type === "exported" || type === "existing") return type;
  if (type === "kms") throw new LogicalError(400, "managed keys (kms) are not supported by this server");
  throw new LogicalError(400, `the "exported" path parameter must be "internal", "existing", exported" or "kms"`);
}

/** The key a CA is made with: an existing one (`key_ref`) or a new one stored under `key_name`. */
async function caKey(store: PkiStore, type: "internal" | "exported" | "existing", data: Record<string, unknown>): Promise<KeyEntry> {
  if (type === "existing") return store.resolveKey(stringField("key_ref", data.key_ref) || "default");
  const keyType = stringField("key_type", data.key_type, "rsa");
  const bits = checkKeyParameters(keyType, parseCount("key_bits", data.key_bits) ?? 0);
  return addKey(store, await generateKey(keyType as KeyMaterial["type"], bits), stringField("key_name", data.key_name));
}

/** The subject fields every CA endpoint takes. */
function caSubject(data: Record<string, unknown>) {
  const commonName = stringField("common_name", data.common_name);
  if (commonName === "") throw new LogicalError(400, "the common_name field is required");
  const list = (field: string) => (stringList(field, data[field]) ?? []).filter((value) => value !== "");
  return {
    common_name: commonName,
    ou: list("ou"),
    organization: list("organization"),
    country: list("country"),
    locality: list("locality"),
    province: list("province"),
    street_address: list("street_address"),
    postal_code: list("postal_code"),
    serial_number: stringField("serial_number", data.serial_number),
  };
}

function caSans(data: Record<string, unknown>, commonName: string): Sans {
  if (parseFlag("use_pss", data.use_pss)) throw new LogicalError(400, "use_pss is not supported by this server");
  const sans: Sans = { dns: [], emails: [], ips: [], uris: [] };
  const names = [...(parseFlag("exclude_cn_from_sans", data.exclude_cn_from_sans) ? [] : [commonName]), ...(stringList("alt_names", data.alt_names) ?? [])];
  for (const name of names.filter((n) => n !== "")) {
    if (name.includes("@")) sans.emails.push(name);
    else if (isDnsName(name)) sans.dns.push(name);
  }
  sans.ips = (stringList("ip_sans", data.ip_sans) ?? []).filter((ip) => ip !== "").map(checkIpAddress);
  sans.uris = (stringList("uri_sans", data.uri_sans) ?? []).filter((uri) => uri !== "");
  if ((stringList("permitted_dns_domains", data.permitted_dns_domains) ?? []).some((d) => d !== "")) {
    throw new LogicalError(400, "permitted_dns_domains (name constraints) are not supported by this server");
  }
  return sans;
}

function maxPathLength(data: Record<string, unknown>): number {
  const value = data.max_path_length;
  if (value === undefined || value === null || value === "" || value === -1 || value === "-1") return -1;
  return parseCount("max_path_length", value) ?? -1;
}

async function storeCert(store: PkiStore, certificate: x509.X509Certificate, issuerId: string): Promise<void> {
  await writeJson(store.storage, `certs/${normalizeSerial(certificateSerial(certificate))}`, {
    certificate: toBase64(new Uint8Array(certificate.rawData)),
    issuer_id: issuerId,
  });
}

async function generateRoot(request: LogicalRequest, type: string, system: LeaseTtls): Promise<LogicalResponse> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const kind = generationType(type);
  const format = outputFormat(data);
  const subjectFields = caSubject(data);
  const sans = caSans(data, subjectFields.common_name);
  const issuerName = stringField("issuer_name", data.issuer_name);
  // Checked before the key is made, so a refused name leaves no key behind.
  await checkUniqueName(store, "issuer", checkObjectName(issuerName, "issuer"));
  const key = await caKey(store, kind, data);
  const usable = await usableKey(key, signatureBits(key.type, parseCount("signature_bits", data.signature_bits) ?? 0));
  const notBeforeDuration = parseNonNegativeDuration("not_before_duration", data.not_before_duration) ?? 30;
  const times = validity(data, { ttl: 0, maxTtl: 0, notBeforeDuration }, request.mount, system);
  const urls = await store.urls();
  const subject = subjectName(subjectFields);
  const certificate = await buildCertificate(
    {
      subject,
      publicKey: usable.publicKey,
      notBefore: times.notBefore,
      notAfter: times.notAfter,
      sans,
      ca: { maxPathLength: maxPathLength(data) },
      keyUsage: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      extKeyUsage: [],
      urls,
    },
    { self: usable },
  );
  const pem = certificate.toString("pem").trim();
  const { issuer } = await addIssuer(store, pem, issuerName);
  await storeCert(store, certificate, issuer.id);
  await rebuildCrl(store, issuer, request.mount.uuid);
  const warnings = [...times.warnings];
  if (!urls.issuing_certificates.length && !urls.crl_distribution_points.length && !urls.ocsp_servers.length) warnings.push(NO_AIA_WARNING);
  const result: Record<string, unknown> = {
    certificate: formatCertificate(pem, format),
    issuing_ca: formatCertificate(pem, format),
    serial_number: certificateSerial(certificate),
    expiration: unixSeconds(certificate.notAfter),
    issuer_id: issuer.id,
    issuer_name: issuer.name,
    key_id: key.id,
    key_name: key.name,
  };
  if (kind === "exported") {
    const privateKey = exportPrivateKey(key, stringField("private_key_format", data.private_key_format), format === "der");
    result.private_key = privateKey;
    result.private_key_type = key.type;
    if (format === "pem_bundle") result.certificate = `${privateKey}\n${pem}`;
  }
  return { data: result, warnings };
}

async function generateIntermediate(request: LogicalRequest, type: string): Promise<LogicalResponse> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const kind = generationType(type);
  const format = outputFormat(data);
  const subjectFields = caSubject(data);
  const sans = caSans(data, subjectFields.common_name);
  const key = await caKey(store, kind, data);
  const usable = await usableKey(key, signatureBits(key.type, parseCount("signature_bits", data.signature_bits) ?? 0));
  const extensions: x509.Extension[] = [];
  const names = [
    ...sans.dns.map((value) => ({ type: "dns" as const, value })),
    ...sans.emails.map((value) => ({ type: "email" as const, value })),
    ...sans.ips.map((value) => ({ type: "ip" as const, value })),
    ...sans.uris.map((value) => ({ type: "url" as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  if (parseFlag("add_basic_constraints", data.add_basic_constraints)) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subjectName(subjectFields),
    keys: { privateKey: usable.privateKey, publicKey: usable.publicKey },
    signingAlgorithm: usable.algorithm,
    extensions,
  });
  const der = new Uint8Array(csr.rawData);
  const result: Record<string, unknown> = {
    csr: format === "der" ? toBase64(der) : pemEncode(der, "CERTIFICATE REQUEST"),
    key_id: key.id,
    key_name: key.name,
  };
  if (kind === "exported") {
    result.private_key = exportPrivateKey(key, stringField("private_key_format", data.private_key_format), format === "der");
    result.private_key_type = key.type;
  }
  return { data: result };
}

async function signIntermediate(request: LogicalRequest, issuerRef: string, system: LeaseTtls): Promise<LogicalResponse> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const format = outputFormat(data);
  const csr = await parseCsr(data.csr);
  const useCsrValues = parseFlag("use_csr_values", data.use_csr_values) ?? false;
  const issuer = await store.resolveIssuer(issuerRef);
  const { signer, certificate: issuerCert } = await signerFor(store, issuer, parseCount("signature_bits", data.signature_bits) ?? 0);
  const issuerConstraints = issuerCert.getExtension(x509.BasicConstraintsExtension);
  let pathLength = maxPathLength(data);
  if (issuerConstraints?.pathLength === 0) {
    throw new LogicalError(400, "signing certificate has a max path length of zero, and cannot issue further CA certificates");
  }
  if (pathLength === -1 && issuerConstraints?.pathLength !== undefined) pathLength = issuerConstraints.pathLength - 1;
  let subject: x509.Name;
  let sans: Sans;
  if (useCsrValues) {
    subject = new x509.Name(csr.subjectName.toArrayBuffer());
    sans = csrSans(csr);
  } else {
    const fields = caSubject(data);
    subject = subjectName(fields);
    sans = caSans(data, fields.common_name);
  }
  const notBeforeDuration = parseNonNegativeDuration("not_before_duration", data.not_before_duration) ?? 30;
  // As Vault: an intermediate may outlive the issuer signing it, whatever the issuer's leaf_not_after_behavior.
  const times = validity(data, { ttl: 0, maxTtl: 0, notBeforeDuration }, request.mount, system);
  const certificate = await buildCertificate(
    {
      subject,
      publicKey: csr.publicKey,
      notBefore: times.notBefore,
      notAfter: times.notAfter,
      sans,
      ca: { maxPathLength: pathLength },
      keyUsage: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      extKeyUsage: [],
      urls: await issuerUrls(store, issuer),
    },
    signer,
  );
  await storeCert(store, certificate, issuer.id);
  const pem = certificate.toString("pem").trim();
  return {
    data: {
      certificate: formatCertificate(pem, format),
      issuing_ca: formatCertificate(issuer.certificate, format),
      ca_chain: [pem, ...issuer.ca_chain].map((c) => formatCertificate(c, format)),
      serial_number: certificateSerial(certificate),
      expiration: unixSeconds(certificate.notAfter),
    },
    ...(times.warnings.length > 0 ? { warnings: times.warnings } : {}),
  };
}

/** Re-signs a self-issued CA certificate (a root's cross-signing) with the issuer: same subject, key, serial, validity and extensions. */
async function signSelfIssued(request: LogicalRequest, issuerRef: string): Promise<LogicalResponse> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const text = stringField("certificate", data.certificate);
  const blocks = text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks === 0) throw new LogicalError(400, "certificate could not be PEM-decoded");
  if (blocks !== 1) throw new LogicalError(400, `${blocks} certificates found in PEM file, expected 1`);
  let presented: x509.X509Certificate;
  try {
    const der = derFromText(text);
    if (!der) throw new Error("no PEM data found");
    presented = new x509.X509Certificate(der);
  } catch (error) {
    throw new LogicalError(400, `error parsing certificate: ${(error as Error).message}`);
  }
  if (!presented.getExtension(x509.BasicConstraintsExtension)?.ca) throw new LogicalError(400, "given certificate is not a CA certificate");
  if (presented.subject !== presented.issuer) throw new LogicalError(400, "given certificate is not self-issued");
  const issuer = await store.resolveIssuer(issuerRef);
  const { signer } = await signerFor(store, issuer);
  const certificate = await resign(presented, signer);
  return { data: { certificate: certificate.toString("pem").trim(), issuing_ca: issuer.certificate } };
}

async function resign(presented: x509.X509Certificate, signer: Signer): Promise<x509.X509Certificate> {
  try {
    return await x509.X509CertificateGenerator.create({
      serialNumber: presented.serialNumber,
      subject: presented.subjectName,
      issuer: signer.name,
      notBefore: presented.notBefore,
      notAfter: presented.notAfter,
      publicKey: presented.publicKey,
      signingKey: signer.key.privateKey,
      signingAlgorithm: signer.key.algorithm,
      extensions: [
        ...presented.extensions.filter((extension) => extension.type !== "2.5.29.35"),
        new x509.AuthorityKeyIdentifierExtension(signer.keyId, false),
      ],
    });
  } catch (error) {
    throw new LogicalError(400, `error signing the certificate: ${(error as Error).message}`);
  }
}

async function importCa(request: LogicalRequest, field: string): Promise<LogicalResponse> {
  const store = new PkiStore(request.storage);
  const result = await importBundle(store, request.data[field], field);
  for (const id of result.imported_issuers ?? []) {
    const issuer = await store.issuer(id);
    if (issuer) await rebuildCrl(store, issuer, request.mount.uuid);
  }
  return { data: { ...result } };
}

async function deleteRoot({ storage }: LogicalRequest): Promise<null> {
  for (const prefix of ["config/issuer/", "config/key/", "crls/"]) {
    for (const name of await storage.list(prefix)) await storage.delete(prefix + name);
  }
  await storage.delete("config/issuers");
  await storage.delete("config/keys");
  return null;
}

export function caEndpoints(system: LeaseTtls): Endpoint<LogicalRequest>[] {
  return [
    { pattern: "root", sudo: true, operations: { delete: deleteRoot } },
    { pattern: "root/generate/:type", operations: { update: (request, { type }) => generateRoot(request, type!, system) } },
    { pattern: "root/rotate/:type", operations: { update: (request, { type }) => generateRoot(request, type!, system) } },
    { pattern: "intermediate/generate/:type", operations: { update: (request, { type }) => generateIntermediate(request, type!) } },
    { pattern: "issuers/generate/root/:type", operations: { update: (request, { type }) => generateRoot(request, type!, system) } },
    { pattern: "issuers/generate/intermediate/:type", operations: { update: (request, { type }) => generateIntermediate(request, type!) } },
    { pattern: "root/sign-intermediate", operations: { update: (request) => signIntermediate(request, "default", system) } },
    { pattern: "issuer/:ref/sign-intermediate", operations: { update: (request, { ref }) => signIntermediate(request, ref!, system) } },
    { pattern: "root/sign-self-issued", sudo: true, operations: { update: (request) => signSelfIssued(request, "default") } },
    { pattern: "issuer/:ref/sign-self-issued", sudo: true, operations: { update: (request, { ref }) => signSelfIssued(request, ref!) } },
    { pattern: "intermediate/set-signed", operations: { update: (request) => importCa(request, "certificate") } },
    { pattern: "config/ca", operations: { update: (request) => importCa(request, "pem_bundle") } },
    { pattern: "issuers/import/bundle", operations: { update: (request) => importCa(request, "pem_bundle") } },
    { pattern: "issuers/import/cert", operations: { update: (request) => importCa(request, "pem_bundle") } },
  ];
}
