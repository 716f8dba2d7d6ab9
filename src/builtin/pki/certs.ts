/**
 * Building certificates as Vault's certutil does: the subject's attributes in Go's order, the
 * SANs, key usages, SKI (SHA-1 of the public key) and AKI (the signer's SKI), basic constraints
 * for CAs, and the AIA / CRL distribution point URLs; signed with the issuer's key through
 * @peculiar/x509 on WebCrypto.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { toHex } from "../../sdk/encoding.js";
import { derFromText } from "../../sdk/pem.js";
import { LogicalError } from "../../sdk/types.js";
import type { UsableKey } from "./keys.js";
import type { UrlsConfig } from "./store.js";

export interface SubjectFields {
  common_name: string;
  ou: string[];
  organization: string[];
  country: string[];
  locality: string[];
  province: string[];
  street_address: string[];
  postal_code: string[];
  serial_number: string;
}

/** Go's pkix.Name order: C, ST, L, street, postalCode, O, OU, CN, serialNumber; one RDN per field. */
export function subjectName(fields: SubjectFields): x509.Name {
  const rdns: Record<string, string[]>[] = [];
  const add = (oid: string, values: string[]) => {
    if (values.length > 0) rdns.push({ [oid]: values });
  };
  add("2.5.4.6", fields.country);
  add("2.5.4.8", fields.province);
  add("2.5.4.7", fields.locality);
  add("2.5.4.9", fields.street_address);
  add("2.5.4.17", fields.postal_code);
  add("2.5.4.10", fields.organization);
  add("2.5.4.11", fields.ou);
  if (fields.common_name) add("2.5.4.3", [fields.common_name]);
  if (fields.serial_number) add("2.5.4.5", [fields.serial_number]);
  return new x509.Name(rdns);
}

export interface Sans {
  dns: string[];
  emails: string[];
  ips: string[];
  uris: string[];
}

export const NO_SANS: Sans = { dns: [], emails: [], ips: [], uris: [] };

/** The issuing key and certificate a new certificate is signed with (absent: self-signed). */
export interface Signer {
  name: x509.Name;
  key: UsableKey;
  /** Hex SKI of the signer's certificate, for the AKI. */
  keyId: string;
}

export interface CertificateSpec {
  subject: x509.Name;
  publicKey: CryptoKey | x509.PublicKey;
  notBefore: Date;
  notAfter: Date;
  sans: Sans;
  /** Absent for a leaf. `maxPathLength` -1: no path length constraint. */
  ca?: { maxPathLength: number };
  keyUsage: number;
  extKeyUsage: string[];
  /** Vault's `basic_constraints_valid_for_non_ca`: CA:FALSE on a leaf. */
  leafBasicConstraints?: boolean;
  urls: Pick<UrlsConfig, "issuing_certificates" | "crl_distribution_points" | "ocsp_servers">;
  policyIdentifiers?: string[];
}

/** A random positive 20-byte serial, hex (as Vault: fresh randomness per certificate, never a counter). */
export function randomSerialHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, and a full 20 bytes when printed
  return toHex(bytes);
}

/** Signs `spec` with `signer`, or with `selfKey` when self-signed (a root). */
export async function buildCertificate(spec: CertificateSpec, signer: Signer | { self: UsableKey }): Promise<x509.X509Certificate> {
  const ski = await x509.SubjectKeyIdentifierExtension.create(spec.publicKey);
  const extensions: x509.Extension[] = [];
  if (spec.ca) {
    extensions.push(new x509.BasicConstraintsExtension(true, spec.ca.maxPathLength >= 0 ? spec.ca.maxPathLength : undefined, true));
  } else if (spec.leafBasicConstraints) {
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
  }
  if (spec.keyUsage) extensions.push(new x509.KeyUsagesExtension(spec.keyUsage, true));
  if (spec.extKeyUsage.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(spec.extKeyUsage, false));
  extensions.push(ski);
  const signing = "self" in signer ? { name: spec.subject, key: signer.self, keyId: ski.keyId } : signer;
  extensions.push(new x509.AuthorityKeyIdentifierExtension(signing.keyId, false));
  const names: x509.JsonGeneralName[] = [
    ...spec.sans.dns.map((value) => ({ type: "dns" as const, value })),
    ...spec.sans.emails.map((value) => ({ type: "email" as const, value })),
    ...spec.sans.ips.map((value) => ({ type: "ip" as const, value })),
    ...spec.sans.uris.map((value) => ({ type: "url" as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const { issuing_certificates, crl_distribution_points, ocsp_servers } = spec.urls;
  if (issuing_certificates.length > 0 || ocsp_servers.length > 0) {
    extensions.push(new x509.AuthorityInfoAccessExtension({ caIssuers: issuing_certificates, ocsp: ocsp_servers }));
  }
  if (crl_distribution_points.length > 0) extensions.push(new x509.CRLDistributionPointsExtension(crl_distribution_points));
  if (spec.policyIdentifiers?.length) extensions.push(new x509.CertificatePolicyExtension(spec.policyIdentifiers));
  try {
    return await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: spec.subject,
      issuer: signing.name,
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      publicKey: spec.publicKey,
      signingKey: signing.key.privateKey,
      signingAlgorithm: signing.key.algorithm,
      extensions,
    });
  } catch (error) {
    // A value the encoder refused (an IP or URI it cannot encode): the caller's input.
    throw new LogicalError(400, `error creating certificate: ${(error as Error).message}`);
  }
}

/** Key usage names as Vault takes them (case-insensitive), to x509 flags. */
const KEY_USAGES: Record<string, number> = {
  digitalsignature: x509.KeyUsageFlags.digitalSignature,
  contentcommitment: x509.KeyUsageFlags.nonRepudiation,
  keyencipherment: x509.KeyUsageFlags.keyEncipherment,
  dataencipherment: x509.KeyUsageFlags.dataEncipherment,
  keyagreement: x509.KeyUsageFlags.keyAgreement,
  certsign: x509.KeyUsageFlags.keyCertSign,
  crlsign: x509.KeyUsageFlags.cRLSign,
  encipheronly: x509.KeyUsageFlags.encipherOnly,
  decipheronly: x509.KeyUsageFlags.decipherOnly,
};

export function keyUsageFlags(names: string[]): number {
  let flags = 0;
  for (const name of names) flags |= KEY_USAGES[name.trim().toLowerCase()] ?? 0;
  return flags;
}

const EXT_KEY_USAGES: Record<string, string> = {
  serverauth: x509.ExtendedKeyUsage.serverAuth,
  clientauth: x509.ExtendedKeyUsage.clientAuth,
  codesigning: x509.ExtendedKeyUsage.codeSigning,
  emailprotection: x509.ExtendedKeyUsage.emailProtection,
  timestamping: x509.ExtendedKeyUsage.timeStamping,
  ocspsigning: x509.ExtendedKeyUsage.ocspSigning,
  any: "2.5.29.37.0",
};

export function extKeyUsageOid(name: string): string | undefined {
  return EXT_KEY_USAGES[name.trim().toLowerCase()];
}

/** The hex SKI of a certificate (computed from its key where it carries none). */
export async function subjectKeyId(certificate: x509.X509Certificate): Promise<string> {
  const ext = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ext) return ext.keyId;
  return (await x509.SubjectKeyIdentifierExtension.create(certificate.publicKey)).keyId;
}

/** Parses a PEM or DER certificate; 400 when it is not one. */
export function parseCertificate(input: string | Uint8Array<ArrayBuffer>): x509.X509Certificate {
  const der = typeof input === "string" ? derFromText(input) : input;
  try {
    if (!der) throw new Error("no PEM data");
    return new x509.X509Certificate(der);
  } catch {
    throw new LogicalError(400, "unable to parse certificate");
  }
}

/** Unix seconds of a date, as Vault's `expiration`. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** Vault's colon-separated serial of a certificate. */
export function certificateSerial(certificate: x509.X509Certificate): string {
  const hex = certificate.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, "");
  return (hex.length % 2 === 1 ? `0${hex}` : hex).match(/../g)!.join(":");
}
