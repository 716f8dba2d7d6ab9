/**
 * Transit keys as certificate holders (Vault 1.15+): a PKCS #10 request signed by a key version,
 * and the chain a CA issued for it, checked against that version and kept on it. Requests and
 * certificates are encoded and parsed with @peculiar/asn1-*; the request is signed by the engine's
 * own signing (signing.ts), so Ed25519 works where WebCrypto lacks it.
 */
import { Attributes, CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  Attribute,
  BasicConstraints,
  Certificate,
  type Extension,
  Extensions,
  id_ce_basicConstraints,
  id_ce_subjectAltName,
  Name,
  SubjectPublicKeyInfo,
} from "@peculiar/asn1-x509";
import { fromBase64, toBase64 } from "../../sdk/encoding.js";
import { LogicalError } from "../../sdk/types.js";
import { pemBlocks, pemEncode } from "../../sdk/pem.js";
import { kindOf } from "./imported-material.js";
import type { LoadedKey } from "./keyring.js";
import { ed25519Spki, hasPrivateKey, type KeyVersion, pem, pemBody } from "./material.js";
import { constantTimeEqual } from "./primitives.js";
import { type SignatureOptions, signatureBytes } from "./signing.js";

/** PKCS #9 extensionRequest: the attribute a CSR asks for extensions in. */
const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const NO_CONTEXT = new Uint8Array(0);
/** Go's names for the public key algorithms a transit key can have. */
const GO_ALGORITHM_NAMES = { rsa: "RSA", ecdsa: "ECDSA", ed25519: "Ed25519" } as const;

/** What a new request takes from a template request. */
export interface RequestTemplate {
  subject: Name;
  subjectAltName?: Extension;
}

/** A certificate of a chain: its DER as given, its public key and its basicConstraints cA flag (undefined without the extension). */
interface ChainCertificate {
  der: Uint8Array;
  publicKey: SubjectPublicKeyInfo;
  ca: boolean | undefined;
}

/** The template's PEM (first block, any label, as Go's pem.Decode reads it) parsed as a request; undefined for "". */
export function parseRequestTemplate(text: string): RequestTemplate | undefined {
  if (text === "") return undefined;
  const der = pemBlocks(text)[0]?.der;
  if (!der) throw new LogicalError(400, "could not decode PEM certificate request");
  try {
    const request = AsnConvert.parse(der, CertificationRequest);
    return { subject: request.certificationRequestInfo.subject, subjectAltName: subjectAltName(request) };
  } catch {
    throw new LogicalError(400, "x509: malformed certificate request");
  }
}

/**
 * A new request (PEM) for `version`'s key, signed by it, with the template's subject and
 * subjectAltName (empty subject without a template); the template's key and signature are ignored,
 * as Go's x509.CreateCertificateRequest does with a parsed request.
 */
export async function certificateRequest(key: LoadedKey, version: number, template: RequestTemplate | undefined): Promise<string> {
  let entry: KeyVersion;
  try {
    entry = key.version(version);
  } catch (error) {
    throw new LogicalError(400, `could not create the csr: ${(error as Error).message}`);
  }
  if (!hasPrivateKey(entry)) throw new LogicalError(400, "could not create the csr: private key not imported for key version selected");
  const san = template?.subjectAltName;
  const requestInfo = new CertificationRequestInfo({
    subject: template?.subject ?? new Name(),
    subjectPKInfo: AsnConvert.parse(publicKeyInfo(key, entry), SubjectPublicKeyInfo),
    attributes: new Attributes(san ? [new Attribute({ type: EXTENSION_REQUEST, values: [AsnConvert.serialize(new Extensions([san]))] })] : []),
  });
  const { algorithm, options } = requestSignature(key);
  const { raw } = await signatureBytes(key, version, NO_CONTEXT, new Uint8Array(AsnConvert.serialize(requestInfo)), options);
  const request = new CertificationRequest({ certificationRequestInfo: requestInfo, signatureAlgorithm: algorithm, signature: raw.slice().buffer });
  return pem("CERTIFICATE REQUEST", new Uint8Array(AsnConvert.serialize(request)));
}

/**
 * The subjectAltName extension the template requests, kept whole: Go copies a parsed template's
 * extension request (its Attributes) rather than rebuilding the names, so they keep their order.
 */
function subjectAltName(template: CertificationRequest): Extension | undefined {
  for (const attribute of template.certificationRequestInfo.attributes ?? []) {
    if (attribute.type !== EXTENSION_REQUEST) continue;
    for (const value of attribute.values) {
      const extension = AsnConvert.parse(value, Extensions).find((requested) => requested.extnID === id_ce_subjectAltName);
      if (extension) return extension;
    }
  }
  return undefined;
}

/** The signature algorithm Go picks for the key: SHA-256 with RSA (PKCS #1 v1.5), ECDSA with the curve's SHA-2, Ed25519. */
function requestSignature(key: LoadedKey): { algorithm: AlgorithmIdentifier; options: SignatureOptions } {
  const options: SignatureOptions = { hash: "sha2-256", prehashed: false, signatureAlgorithm: "", saltLength: "auto", marshaling: "asn1" };
  switch (key.info.kind) {
    case "rsa":
      return {
        algorithm: new AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: null }),
        options: { ...options, signatureAlgorithm: "pkcs1v15" },
      };
    case "ecdsa": {
      const [oid, hash] = (
        { "P-256": ["1.2.840.10045.4.3.2", "sha2-256"], "P-384": ["1.2.840.10045.4.3.3", "sha2-384"], "P-521": ["1.2.840.10045.4.3.4", "sha2-512"] } as const
      )[key.info.curve!.name];
      return { algorithm: new AlgorithmIdentifier({ algorithm: oid }), options: { ...options, hash } };
    }
    default:
      return { algorithm: new AlgorithmIdentifier({ algorithm: "1.3.101.112" }), options };
  }
}

/** A version's public key as a SubjectPublicKeyInfo (DER). */
function publicKeyInfo(key: LoadedKey, entry: KeyVersion): Uint8Array {
  return key.info.kind === "ed25519" ? ed25519Spki(fromBase64(entry.public_key!)) : pemBody(entry.public_key!);
}

/**
 * The certificates in `text`, in order: every CERTIFICATE block (others are skipped, as Vault does),
 * each parsed. Refusals are Vault's.
 */
export function parseCertificateChain(text: string): ChainCertificate[] {
  const blocks = pemBlocks(text);
  if (blocks.length === 0 && text.trim() !== "") throw new LogicalError(400, "could not decode PEM block in certificate chain");
  const certificates = blocks.filter((block) => block.label === "CERTIFICATE" || block.label === "X509 CERTIFICATE");
  if (certificates.length === 0) throw new LogicalError(400, "provided certificate chain did not contain any valid PEM certificate");
  return certificates.map((block) => {
    try {
      const certificate = AsnConvert.parse(block.der, Certificate);
      return { der: block.der, publicKey: certificate.tbsCertificate.subjectPublicKeyInfo, ca: isCa(certificate) };
    } catch {
      throw new LogicalError(400, "failed to parse certificate in certificate chain: x509: malformed certificate");
    }
  });
}

/**
 * `version` with `chain` stored on it, once the chain is a leaf (then CAs) whose key is that
 * version's. A leaf for another key is the client's mistake: 400, where Vault answers 500.
 */
export function withCertificateChain(key: LoadedKey, version: number, chain: ChainCertificate[]): KeyVersion {
  const refuse = (reason: string) => new LogicalError(400, `failed to persist certificate chain: ${reason}`);
  const [leaf, ...issuers] = chain;
  if (leaf!.ca === true) throw refuse("certificate in the first position is not a leaf certificate");
  if (issuers.some((issuer) => issuer.ca === false)) throw refuse("provided certificate chain contains more than one leaf certificate");
  const leafKey = leaf!.publicKey;
  const leafKind = kindOf(leafKey.algorithm.algorithm);
  const mismatch = "could not validate key match between leaf certificate key and key version in transit";
  if (leafKind !== key.info.kind) {
    // Any other algorithm (Go says "DSA", or "0" for one it does not know) is named by its OID.
    const name = leafKind ? GO_ALGORITHM_NAMES[leafKind] : leafKey.algorithm.algorithm;
    throw refuse(`${mismatch}: provided leaf certificate public key algorithm '${name}' does not match the transit key type '${key.policy.type}'`);
  }
  let entry: KeyVersion;
  try {
    entry = key.version(version);
  } catch (error) {
    throw refuse(`${mismatch}: ${(error as Error).message}`);
  }
  if (!constantTimeEqual(new Uint8Array(AsnConvert.serialize(leafKey)), publicKeyInfo(key, entry))) {
    throw refuse("leaf certificate public key does match the key version selected");
  }
  return { ...entry, certificate_chain: chain.map((certificate) => toBase64(certificate.der)) };
}

/** A certificate's basicConstraints cA flag; undefined when it has no such extension (Go's BasicConstraintsValid false). */
function isCa(certificate: Certificate): boolean | undefined {
  const extension = certificate.tbsCertificate.extensions?.find((candidate) => candidate.extnID === id_ce_basicConstraints);
  return extension && AsnConvert.parse(extension.extnValue, BasicConstraints).cA;
}

/** The chain as Vault shows it (key read, `export/certificate-chain/`): each certificate's PEM, trimmed, one after another; "" without one. */
export function certificateChainText(entry: KeyVersion): string {
  return (entry.certificate_chain ?? []).map((der) => pemEncode(fromBase64(der), "CERTIFICATE")).join("\n");
}
