/**
 * The reads anyone may make, without a token and on standbys too, as Vault serves them: `ca`,
 * `ca/pem`, `ca_chain`, `crl`, `crl/pem`, `issuer/:ref/{pem,der,json,crl…}` and `cert/…`; the raw
 * ones through Vault's `http_raw_body` / `http_content_type` / `http_status_code` convention.
 * Also the `certs` and `certs/revoked` lists.
 */
import { fromBase64, toBase64 } from "../../sdk/encoding.js";
import type { Endpoint } from "../../sdk/framework.js";
import { listResponse, notFound } from "../../sdk/responses.js";
import type { LogicalRequest, LogicalResponse } from "../../sdk/types.js";
import { currentCrl } from "./crl.js";
import { certificateDer } from "./issuers.js";
import { pemEncode } from "../../sdk/pem.js";
import { type IssuerEntry, PkiStore, requestSerial } from "./store.js";

const encoder = new TextEncoder();

/** Vault's raw response: the body as is with its content type; 204 when there is nothing to send. */
export function rawResponse(body: Uint8Array | string | null, contentType: string): LogicalResponse {
  const bytes = typeof body === "string" ? encoder.encode(body) : (body ?? new Uint8Array());
  return { raw: true, data: { http_content_type: contentType, http_raw_body: toBase64(bytes), http_status_code: bytes.length > 0 ? 200 : 204 } };
}

const PEM_CHAIN = "application/pem-certificate-chain";
const DER_CERT = "application/pkix-cert";
const DER_CRL = "application/pkix-crl";
const PEM_FILE = "application/x-pem-file";

function chainText(issuer: IssuerEntry | null): string {
  return issuer ? issuer.ca_chain.join("\n") : "";
}

async function crlPem(request: LogicalRequest, ref: string): Promise<string> {
  const der = await currentCrl(new PkiStore(request.storage), ref, request.mount.uuid);
  return der ? pemEncode(der, "X509 CRL") : "";
}

/** `cert/:serial`: the certificate as JSON with its revocation state; the special serials read the CA, its chain, the CRL. */
async function readCert(request: LogicalRequest, serialParam: string): Promise<LogicalResponse> {
  const store = new PkiStore(request.storage);
  switch (serialParam) {
    case "ca":
      return certData((await store.findIssuer("default"))?.certificate ?? "");
    case "ca_chain": {
      const issuer = await store.findIssuer("default");
      return { data: { certificate: chainText(issuer), ca_chain: chainText(issuer), revocation_time: 0, revocation_time_rfc3339: "" } };
    }
    case "crl":
      return certData(await crlPem(request, "default"));
  }
  const serial = requestSerial(serialParam);
  const stored = await store.cert(serial);
  if (!stored) throw notFound();
  const revoked = await store.revoked(serial);
  const data = certData(pemEncode(fromBase64(stored.certificate), "CERTIFICATE")).data!;
  if (revoked) {
    data.revocation_time = revoked.revocation_time;
    data.revocation_time_rfc3339 = revoked.revocation_time_rfc3339;
    data.issuer_id = revoked.issuer_id;
  }
  return { data };
}

function certData(certificate: string): LogicalResponse {
  return { data: { certificate, revocation_time: 0, revocation_time_rfc3339: "" } };
}

/** `cert/:serial/raw` and `/raw/pem`. */
async function readCertRaw(request: LogicalRequest, serialParam: string, pem: boolean): Promise<LogicalResponse> {
  const store = new PkiStore(request.storage);
  let der: Uint8Array | null = null;
  if (serialParam === "ca") {
    const issuer = await store.findIssuer("default");
    der = issuer ? certificateDer(issuer.certificate) : null;
  } else if (serialParam === "crl") {
    const crl = await currentCrl(store, "default", request.mount.uuid);
    return pem ? rawResponse(crl ? pemEncode(crl, "X509 CRL") : null, PEM_FILE) : rawResponse(crl, DER_CRL);
  } else {
    const stored = await store.cert(requestSerial(serialParam));
    der = stored ? fromBase64(stored.certificate) : null;
  }
  if (pem) return rawResponse(der ? pemEncode(der, "CERTIFICATE") : null, PEM_CHAIN);
  return rawResponse(der, DER_CERT);
}

async function issuerByRef(request: LogicalRequest, ref: string): Promise<IssuerEntry> {
  return new PkiStore(request.storage).resolveIssuer(ref);
}

const read = (handler: Endpoint<LogicalRequest>["operations"]["read"]) => ({ unauthenticated: true, operations: { read: handler } });

export const fetchEndpoints: Endpoint<LogicalRequest>[] = [
  {
    pattern: "ca",
    ...read(async ({ storage }) => {
      const issuer = await new PkiStore(storage).findIssuer("default");
      return rawResponse(issuer ? certificateDer(issuer.certificate) : null, DER_CERT);
    }),
  },
  {
    pattern: "ca/pem",
    ...read(async ({ storage }) => rawResponse((await new PkiStore(storage).findIssuer("default"))?.certificate ?? null, PEM_CHAIN)),
  },
  { pattern: "ca_chain", ...read(async ({ storage }) => rawResponse(chainText(await new PkiStore(storage).findIssuer("default")), DER_CERT)) },
  { pattern: "crl", ...read(async (request) => rawResponse(await currentCrl(new PkiStore(request.storage), "default", request.mount.uuid), DER_CRL)) },
  { pattern: "crl/pem", ...read(async (request) => rawResponse(await crlPem(request, "default"), PEM_FILE)) },
  { pattern: "cert/:serial", ...read((request, { serial }) => readCert(request, serial!)) },
  { pattern: "cert/:serial/raw", ...read((request, { serial }) => readCertRaw(request, serial!, false)) },
  { pattern: "cert/:serial/raw/pem", ...read((request, { serial }) => readCertRaw(request, serial!, true)) },
  { pattern: "issuer/:ref/pem", ...read(async (request, { ref }) => rawResponse((await issuerByRef(request, ref!)).certificate, PEM_CHAIN)) },
  {
    pattern: "issuer/:ref/der",
    ...read(async (request, { ref }) => rawResponse(certificateDer((await issuerByRef(request, ref!)).certificate), DER_CERT)),
  },
  {
    pattern: "issuer/:ref/json",
    ...read(async (request, { ref }) => {
      const issuer = await issuerByRef(request, ref!);
      return { data: { certificate: issuer.certificate, ca_chain: issuer.ca_chain, issuer_id: issuer.id, issuer_name: issuer.name } };
    }),
  },
  {
    pattern: "issuer/:ref/crl",
    ...read(async (request, { ref }) => {
      await issuerByRef(request, ref!);
      return { data: { crl: await crlPem(request, ref!) } };
    }),
  },
  {
    pattern: "issuer/:ref/crl/pem",
    ...read(async (request, { ref }) => {
      await issuerByRef(request, ref!);
      return rawResponse(await crlPem(request, ref!), PEM_FILE);
    }),
  },
  {
    pattern: "issuer/:ref/crl/der",
    ...read(async (request, { ref }) => {
      await issuerByRef(request, ref!);
      return rawResponse(await currentCrl(new PkiStore(request.storage), ref!, request.mount.uuid), DER_CRL);
    }),
  },
  { pattern: "certs", operations: { list: async ({ storage }) => listResponse(await storage.list("certs/")) } },
  { pattern: "certs/revoked", operations: { list: async ({ storage }) => listResponse(await storage.list("revoked/")) } },
];
