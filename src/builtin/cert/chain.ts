/**
 * TLS client certificate checks for the cert auth method: the chain the client presented, built up
 * to a trusted certificate (signatures, validity, CA flags), the trusted entry's constraints
 * (names, SANs, OUs, extensions) and the CRLs.
 */
import "reflect-metadata"; // @peculiar/x509 resolves its services through tsyringe, which needs it first.
import * as x509 from "@peculiar/x509";
import { LruCache } from "../../sdk/lru.js";
import { derFromText, pemBlocks } from "../../sdk/pem.js";

/** Chains longer than this are not followed: no real PKI needs more, and each link costs a signature check. */
const MAX_CHAIN_LENGTH = 8;

/** The constraints a trusted certificate entry puts on the leaf (Vault's `certs/<name>` fields). */
export interface LeafConstraints {
  allowed_names: string[];
  allowed_common_names: string[];
  allowed_dns_sans: string[];
  allowed_email_sans: string[];
  allowed_uri_sans: string[];
  allowed_organizational_units: string[];
  required_extensions: string[];
}

/** Trusted entries' certificates, parsed once: a login tries every entry, and parsing dominates its cost. */
const parsedEntries = new LruCache<string, x509.X509Certificate[]>(256);

/** `parsePemCertificates`, remembered for PEM text seen before (entries' certificates; never a client's). */
export function parseTrustedPem(pem: string): x509.X509Certificate[] {
  let parsed = parsedEntries.get(pem);
  if (!parsed) {
    parsed = parsePemCertificates(pem);
    parsedEntries.set(pem, parsed);
  }
  return parsed;
}

/** Every certificate in PEM text (a bundle holds several); unparsable blocks are skipped. */
export function parsePemCertificates(pem: string): x509.X509Certificate[] {
  const certificates: x509.X509Certificate[] = [];
  for (const block of pemBlocks(pem)) {
    if (block.label !== "CERTIFICATE") continue;
    try {
      certificates.push(new x509.X509Certificate(block.der));
    } catch {
      // Not a certificate: the caller reports an entry without any.
    }
  }
  return certificates;
}

export function isCa(certificate: x509.X509Certificate): boolean {
  return certificate.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

/**
 * Critical extensions this verifier understands (basic constraints, key usages, names, key IDs,
 * policies). A certificate with any other critical extension, name constraints included, is not
 * used: what it demands would go unchecked (Go's verifier refuses them too).
 */
const HANDLED_CRITICAL_EXTENSIONS = new Set(["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35", "2.5.29.32"]);

/** Valid at `now` and demanding nothing unchecked. */
function usable(certificate: x509.X509Certificate, now: Date): boolean {
  return (
    certificate.notBefore <= now &&
    now <= certificate.notAfter &&
    certificate.extensions.every((extension) => !extension.critical || HANDLED_CRITICAL_EXTENSIONS.has(extension.type))
  );
}

/** Whether `ca` may sign a chain with `belowIntermediates` CA certificates between it and the leaf (pathLenConstraint). */
function pathAllows(ca: x509.X509Certificate, belowIntermediates: number): boolean {
  const limit = ca.getExtension(x509.BasicConstraintsExtension)?.pathLength;
  return limit === undefined || belowIntermediates <= limit;
}

async function signedBy(certificate: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (certificate.issuer !== issuer.subject) return false;
  try {
    return await certificate.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/**
 * Every chain from `leaf` to one of `anchors` (a trusted CA), through the client's `intermediates`:
 * each link signed by the next, valid at `now`, every issuer a CA whose path length allows the CAs
 * below it, no unhandled critical extension anywhere. Leaf first, anchor last.
 */
export async function chainsToAnchors(
  leaf: x509.X509Certificate,
  intermediates: x509.X509Certificate[],
  anchors: x509.X509Certificate[],
  now: Date,
): Promise<x509.X509Certificate[][]> {
  if (!usable(leaf, now)) return [];
  const found: x509.X509Certificate[][] = [];
  const extend = async (chain: x509.X509Certificate[]): Promise<void> => {
    const last = chain[chain.length - 1]!;
    // The CAs already in the chain (all but the leaf) sit below the next issuer.
    const below = chain.length - 1;
    for (const anchor of anchors) {
      if (isCa(anchor) && usable(anchor, now) && pathAllows(anchor, below) && (await signedBy(last, anchor))) found.push([...chain, anchor]);
    }
    if (chain.length >= MAX_CHAIN_LENGTH) return;
    for (const next of intermediates) {
      if (chain.some((link) => link.equal(next)) || !isCa(next) || !usable(next, now) || !pathAllows(next, below)) continue;
      if (await signedBy(last, next)) await extend([...chain, next]);
    }
  };
  await extend([leaf]);
  return found;
}

/** Go's `%d` of the serial number, as Vault prints and keys it. */
export function decimalSerial(certificate: x509.X509Certificate | { serialNumber: string }): string {
  return BigInt(`0x${certificate.serialNumber || "0"}`).toString();
}

/** Bytes as Vault prints key identifiers: lower-case hex pairs joined by ":". */
export function colonHex(hex: string | undefined): string {
  return (hex ?? "").toLowerCase().match(/../g)?.join(":") ?? "";
}

/** The leaf's subject and authority key identifiers (hex), "" where it has none. */
export function keyIdentifiers(certificate: x509.X509Certificate): { subject: string; authority: string } {
  return {
    subject: certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? "",
    authority: certificate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId ?? "",
  };
}

export function commonName(certificate: x509.X509Certificate): string {
  return certificate.subjectName.getField("CN")[0] ?? "";
}

/** Whether the leaf meets every constraint the entry sets (an empty list sets none), as Vault checks them. */
export function meetsConstraints(leaf: x509.X509Certificate, constraints: LeafConstraints): boolean {
  const names = leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const sans = (type: string) => names.filter((name) => name.type === type).map((name) => name.value);
  const cn = commonName(leaf);
  const anyMatch = (patterns: string[], values: string[]) => patterns.length === 0 || patterns.some((pattern) => values.some((value) => glob(pattern, value)));
  return (
    anyMatch(constraints.allowed_names, [cn, ...sans("dns"), ...sans("email")]) &&
    anyMatch(constraints.allowed_common_names, [cn]) &&
    anyMatch(constraints.allowed_dns_sans, sans("dns")) &&
    anyMatch(constraints.allowed_email_sans, sans("email")) &&
    anyMatch(constraints.allowed_uri_sans, sans("url")) &&
    anyMatch(constraints.allowed_organizational_units, leaf.subjectName.getField("OU")) &&
    constraints.required_extensions.every((required) => hasExtension(leaf, required))
  );
}

/** `oid:value` (value a glob): the leaf has the extension and its value, read as an ASN.1 string, matches. */
function hasExtension(leaf: x509.X509Certificate, required: string): boolean {
  const separator = required.indexOf(":");
  if (separator < 0) return false;
  const oid = required.slice(0, separator);
  const pattern = required.slice(separator + 1);
  const text = extensionText(leaf, oid);
  return text !== null && glob(pattern, text);
}

/** The text of the leaf's extension `oid` read as an ASN.1 string ("" when it is not one); null when absent. */
export function extensionText(leaf: x509.X509Certificate, oid: string): string | null {
  const extension = leaf.extensions.find((candidate) => candidate.type === oid);
  return extension ? derString(new Uint8Array(extension.value)) : null;
}

/** The text of a DER-encoded UTF8String, PrintableString or IA5String; "" for anything else. */
function derString(der: Uint8Array): string {
  if (der.length < 2 || ![0x0c, 0x13, 0x16].includes(der[0]!)) return "";
  let length = der[1]!;
  let offset = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 3 || der.length < 2 + octets) return "";
    length = 0;
    for (let i = 0; i < octets; i++) length = (length << 8) | der[2 + i]!;
    offset = 2 + octets;
  }
  if (offset + length !== der.length) return "";
  return new TextDecoder().decode(der.subarray(offset));
}

/** Glob as Vault's cert method matches names: `*` stands for any run of characters, nothing else is special. */
export function glob(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === value;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!value.startsWith(first) || value.length < first.length + last.length) return false;
  let position = first.length;
  for (const middle of parts.slice(1, -1)) {
    const at = value.indexOf(middle, position);
    if (at < 0) return false;
    position = at + middle.length;
  }
  return value.length - last.length >= position && value.endsWith(last);
}

/** The decimal serial numbers a PEM (or DER) CRL revokes; null when it is not a CRL. */
export function revokedSerials(crl: string): string[] | null {
  const der = derFromText(crl);
  if (!der) return null;
  try {
    return new x509.X509Crl(der).entries.map((entry) => decimalSerial(entry));
  } catch {
    return null;
  }
}
