import "reflect-metadata"; // @peculiar/x509 resolves its services through tsyringe, which needs it first.
import * as x509 from "@peculiar/x509";

/** The cluster channel's identity: ECDSA P-521 key and a self-signed certificate for client and server auth. */
export interface ClusterIdentity {
  certificatePem: string;
  privateKeyPem: string;
  notAfter: Date;
}

/** Host name in the certificate; forwarding clients verify it instead of the cluster address's host. */
export const CLUSTER_SERVER_NAME = "strongbox-cluster";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-521", hash: "SHA-512" } as const;

/**
 * A fresh identity for one active term. Short-lived on purpose: it is replaced at every
 * leadership change, and only the current advertisement's certificate is trusted.
 */
export async function generateClusterIdentity(validityMs: number, now = new Date()): Promise<ClusterIdentity> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const notBefore = new Date(now.getTime() - 60_000); // tolerate small clock differences between nodes
  const notAfter = new Date(now.getTime() + validityMs);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f; // positive INTEGER
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join(""),
    name: `CN=${CLUSTER_SERVER_NAME}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: CLUSTER_SERVER_NAME }]),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certificatePem: certificate.toString("pem"),
    privateKeyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    notAfter,
  };
}
