/**
 * Certificates made in-process with @peculiar/x509 (no openssl process): a CA, intermediates,
 * leaves with chosen names and extensions, CRLs. For the cert auth method's tests.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;

export interface Issued {
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
  der: Uint8Array;
  /** PKCS#8 PEM of the private key (for TLS clients). */
  keyPem: string;
}

let serialCounter = 0x1000;

export interface IssueOptions {
  subject: string;
  /** Signs the certificate; self-signed when absent. */
  issuer?: Issued;
  ca?: boolean;
  /** A CA's pathLenConstraint. */
  pathLength?: number;
  sans?: x509.JsonGeneralNames;
  extensions?: x509.Extension[];
  notBefore?: Date;
  notAfter?: Date;
}

export async function issue(options: IssueOptions): Promise<Issued> {
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const serialNumber = (serialCounter++).toString(16).padStart(4, "0");
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca === true, options.pathLength, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ...(options.issuer ? [await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey)] : []),
    ...(options.ca
      ? [new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)]
      : [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth])]),
    ...(options.sans ? [new x509.SubjectAlternativeNameExtension(options.sans)] : []),
    ...(options.extensions ?? []),
  ];
  const common = {
    serialNumber,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + DAY),
    signingAlgorithm: ALGORITHM,
    extensions,
  };
  const certificate = options.issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: options.subject,
        issuer: options.issuer.certificate.subject,
        publicKey: keys.publicKey,
        signingKey: options.issuer.keys.privateKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: options.subject, keys });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certificate,
    keys,
    pem: certificate.toString("pem"),
    der: new Uint8Array(certificate.rawData),
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
  };
}

/** A CRL signed by `issuer` revoking `revoked`, as PEM. */
export async function crlRevoking(issuer: Issued, revoked: Issued[]): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.certificate.subject,
    thisUpdate: new Date(Date.now() - 60_000),
    nextUpdate: new Date(Date.now() + DAY),
    signingAlgorithm: ALGORITHM,
    signingKey: issuer.keys.privateKey,
    entries: revoked.map((entry) => ({ serialNumber: entry.certificate.serialNumber, revocationDate: new Date(Date.now() - 60_000) })),
  });
  return crl.toString("pem");
}

/** An extension whose value is a DER UTF8String (as `required_extensions` matches them). */
export function textExtension(oid: string, text: string): x509.Extension {
  const bytes = new TextEncoder().encode(text);
  return new x509.Extension(oid, false, new Uint8Array([0x0c, bytes.length, ...bytes]));
}
