/**
 * The OCSP responder (RFC 6960), GET form: `ocsp/<base64 DER request>`, no token, standbys too.
 * Each certificate asked about is answered from storage: revoked (with its time), good (issued by
 * that issuer and stored), or unknown; the response is signed by the issuer named in the request.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  id_pkix_ocsp_basic,
  KeyHash,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { fromBase64, fromHex, toHex } from "../../sdk/encoding.js";
import { durationSeconds } from "../../sdk/fields.js";
import type { Endpoint } from "../../sdk/framework.js";
import type { LogicalRequest, LogicalResponse } from "../../sdk/types.js";
import { rawResponse } from "./fetch.js";
import { signerFor } from "./issuers.js";
import { parseCertificate } from "./certs.js";
import { type IssuerEntry, PkiStore } from "./store.js";

const HASHES: Record<string, string> = {
  "1.3.14.3.2.26": "SHA-1",
  "2.16.840.1.101.3.4.2.1": "SHA-256",
  "2.16.840.1.101.3.4.2.2": "SHA-384",
  "2.16.840.1.101.3.4.2.3": "SHA-512",
};

const OCSP_CONTENT_TYPE = "application/ocsp-response";

function statusOnly(status: OCSPResponseStatus): LogicalResponse {
  return rawResponse(new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: status }))), OCSP_CONTENT_TYPE);
}

async function digest(hash: string, data: ArrayBuffer): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest(hash, data)));
}

/** The issuer whose name and key hash to the request's CertID, if the engine knows it. */
async function issuerOf(issuers: IssuerEntry[], certId: CertID): Promise<IssuerEntry | null> {
  const hash = HASHES[certId.hashAlgorithm.algorithm];
  if (!hash) return null;
  const nameHash = toHex(new Uint8Array(certId.issuerNameHash.buffer));
  const keyHash = toHex(new Uint8Array(certId.issuerKeyHash.buffer));
  for (const issuer of issuers) {
    const certificate = parseCertificate(issuer.certificate);
    const keyBits = AsnConvert.parse(certificate.publicKey.rawData, SubjectPublicKeyInfo).subjectPublicKey;
    if ((await digest(hash, certificate.subjectName.toArrayBuffer())) === nameHash && (await digest(hash, keyBits)) === keyHash) return issuer;
  }
  return null;
}

async function answer(request: LogicalRequest, encoded: string): Promise<LogicalResponse> {
  const store = new PkiStore(request.storage);
  const config = await store.crlConfig();
  if (config.ocsp_disable) return statusOnly(OCSPResponseStatus.unauthorized);
  let ocspRequest: OCSPRequest;
  try {
    ocspRequest = AsnConvert.parse(fromBase64(decodeURIComponent(encoded)), OCSPRequest);
  } catch {
    return statusOnly(OCSPResponseStatus.malformedRequest);
  }
  const asked = ocspRequest.tbsRequest.requestList;
  if (asked.length === 0) return statusOnly(OCSPResponseStatus.malformedRequest);
  const issuer = await issuerOf(await store.issuers(), asked[0]!.reqCert);
  if (!issuer?.key_id) return statusOnly(OCSPResponseStatus.unauthorized);
  const now = new Date();
  const expiry = durationSeconds(config.ocsp_expiry) ?? 12 * 3600;
  const responses: SingleResponse[] = [];
  for (const { reqCert } of asked) {
    if ((await issuerOf([issuer], reqCert)) === null) return statusOnly(OCSPResponseStatus.malformedRequest);
    const serial = toHex(new Uint8Array(reqCert.serialNumber))
      .replace(/^(00)+(?=..)/, "")
      .match(/../g)!
      .join("-");
    const revoked = await store.revoked(serial);
    const stored = revoked ? null : await store.cert(serial);
    const certStatus = revoked
      ? new CertStatus({ revoked: new RevokedInfo({ revocationTime: new Date(revoked.revocation_time * 1000) }) })
      : stored?.issuer_id === issuer.id
        ? new CertStatus({ good: null })
        : new CertStatus({ unknown: null });
    responses.push(
      new SingleResponse({ certID: reqCert, certStatus, thisUpdate: now, ...(expiry > 0 ? { nextUpdate: new Date(now.getTime() + expiry * 1000) } : {}) }),
    );
  }
  const { signer } = await signerFor(store, issuer);
  const keyId = fromHex(signer.keyId);
  const tbs = new ResponseData({ responderID: new ResponderID({ byKey: new KeyHash(keyId) }), producedAt: now, responses });
  const tbsDer = AsnConvert.serialize(tbs);
  const algorithm = signer.key.algorithm;
  let signature = await crypto.subtle.sign(algorithm, signer.key.privateKey, tbsDer);
  if (algorithm.name === "ECDSA") {
    signature = new x509.AsnEcSignatureFormatter().toAsnSignature({ ...algorithm, ...signer.key.privateKey.algorithm }, signature)!;
  }
  const provider: x509.IAlgorithm =
    algorithm.name === "ECDSA" ? new x509.EcAlgorithm() : algorithm.name === "Ed25519" ? new x509.EdAlgorithm() : new x509.RsaAlgorithm();
  const signatureAlgorithm = provider.toAsnAlgorithm(algorithm)!;
  const basic = new BasicOCSPResponse({ tbsResponseData: tbs, signatureAlgorithm, signature });
  const response = new OCSPResponse({
    responseStatus: OCSPResponseStatus.successful,
    responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
  });
  return rawResponse(new Uint8Array(AsnConvert.serialize(response)), OCSP_CONTENT_TYPE);
}

export const ocspEndpoints: Endpoint<LogicalRequest>[] = [
  { pattern: "ocsp/*request", unauthenticated: true, operations: { read: (request, { request: encoded }) => answer(request, encoded!) } },
];
