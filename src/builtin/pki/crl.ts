/**
 * Revocation and CRLs. A revocation is stored (`revoked/<serial>`) and the issuer's CRL rebuilt
 * and stored before the request is answered, so every CRL served afterwards, by this node, a
 * standby or the next active, lists it. One CRL per issuer (`crls/<issuer id>`), numbered.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { fromBase64, rfc3339, toBase64 } from "../../sdk/encoding.js";
import { durationSeconds, parseFlag } from "../../sdk/fields.js";
import type { Endpoint } from "../../sdk/framework.js";
import { KeyedLock } from "../../sdk/keyed-lock.js";
import { type LogicalRequest, LogicalError, type LogicalResponse } from "../../sdk/types.js";
import { certificateSerial, parseCertificate } from "./certs.js";
import { importPrivateKey, publicKeyDer } from "./keys.js";
import { signerFor } from "./issuers.js";
import { stringField } from "./roles.js";
import {
  type CrlConfig,
  type CrlEntry,
  DEFAULT_CRL_CONFIG,
  type IssuerEntry,
  normalizeSerial,
  PkiStore,
  readJson,
  requestSerial,
  type RevokedEntry,
  writeJson,
} from "./store.js";

/** One CRL build at a time per mount on this node (the CRL number must not be handed out twice). */
const crlBuilds = new KeyedLock();

/** Builds, signs and stores the CRL of `issuer` from every revocation recorded against it. */
export async function rebuildCrl(store: PkiStore, issuer: IssuerEntry, mountId: string): Promise<CrlEntry | null> {
  if (!issuer.key_id) return null;
  return crlBuilds.run(mountId, async () => {
    const config = await store.crlConfig();
    const { signer } = await signerFor(store, issuer);
    const revoked = config.disable ? [] : await revokedEntries(store, (entry) => entry.issuer_id === issuer.id);
    const previous = await readJson<CrlEntry>(store.storage, `crls/${issuer.id}`);
    const number = (previous?.number ?? 0) + 1;
    const now = Date.now();
    const nextUpdate = now + (durationSeconds(config.expiry) ?? 72 * 3600) * 1000;
    const crl = await x509.X509CrlGenerator.create({
      issuer: signer.name,
      thisUpdate: new Date(now),
      nextUpdate: new Date(nextUpdate),
      signingAlgorithm: signer.key.algorithm,
      signingKey: signer.key.privateKey,
      entries: revoked.map((entry) => ({ serialNumber: entry.serial_number.replaceAll("-", ""), revocationDate: new Date(entry.revocation_time * 1000) })),
      extensions: [
        new x509.AuthorityKeyIdentifierExtension(signer.keyId, false),
        new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(number))),
      ],
    });
    const entry: CrlEntry = { der: toBase64(new Uint8Array(crl.rawData)), number, next_update: nextUpdate };
    await writeJson(store.storage, `crls/${issuer.id}`, entry);
    return entry;
  });
}

export async function rebuildAllCrls(store: PkiStore, mountId: string): Promise<void> {
  for (const issuer of await store.issuers()) await rebuildCrl(store, issuer, mountId);
}

async function revokedEntries(store: PkiStore, keep: (entry: RevokedEntry) => boolean): Promise<RevokedEntry[]> {
  const serials = await store.storage.list("revoked/");
  const entries = await Promise.all(serials.map((serial) => store.revoked(serial)));
  return entries.filter((entry): entry is RevokedEntry => entry !== null && keep(entry));
}

/**
 * The CRL DER of an issuer (the default when `ref` is "default"), or null when there is none. With
 * `auto_rebuild`, a CRL within its grace period of expiry is rebuilt first (on a standby the write
 * sends the read to the active).
 */
export async function currentCrl(store: PkiStore, ref: string, mountId: string, now = Date.now()): Promise<Uint8Array | null> {
  const issuer = await store.findIssuer(ref);
  if (!issuer) return null;
  let entry = await readJson<CrlEntry>(store.storage, `crls/${issuer.id}`);
  const config = await store.crlConfig();
  const grace = (durationSeconds(config.auto_rebuild_grace_period) ?? 12 * 3600) * 1000;
  if (!entry || (config.auto_rebuild && entry.next_update - grace <= now)) entry = await rebuildCrl(store, issuer, mountId);
  return entry ? fromBase64(entry.der) : null;
}

function revocationData(entry: RevokedEntry): Record<string, unknown> {
  return { revocation_time: entry.revocation_time, revocation_time_rfc3339: entry.revocation_time_rfc3339, state: "revoked" };
}

/** Revokes the stored certificate `serial` (hyphenated) and rebuilds its issuer's CRL. */
async function revokeSerial(store: PkiStore, serial: string, mountId: string): Promise<LogicalResponse | null> {
  const colon = serial.replaceAll("-", ":");
  const stored = await store.cert(serial);
  if (!stored) throw new LogicalError(400, `certificate with serial ${colon} not found.`);
  const certificate = parseCertificate(fromBase64(stored.certificate));
  for (const issuer of await store.issuers()) {
    if (certificateSerial(parseCertificate(issuer.certificate)) === colon) {
      throw new LogicalError(400, `adding issuer (id: ${issuer.id}) to its own CRL is not allowed`);
    }
  }
  const existing = await store.revoked(serial);
  if (existing) return { data: revocationData(existing) };
  if (certificate.notAfter.getTime() < Date.now() + 2000) {
    return { warnings: [`certificate with serial ${colon} already expired; refusing to add to CRL`] };
  }
  const now = new Date();
  const entry: RevokedEntry = {
    serial_number: serial,
    revocation_time: Math.floor(now.getTime() / 1000),
    revocation_time_rfc3339: rfc3339(now),
    issuer_id: stored.issuer_id,
    certificate: stored.certificate,
  };
  await writeJson(store.storage, `revoked/${serial}`, entry);
  const issuer = await store.issuer(stored.issuer_id);
  if (issuer) await rebuildCrl(store, issuer, mountId);
  return { data: revocationData(entry) };
}

/** `revoke` / `revoke-with-key`: by `serial_number` or by `certificate`, never both. */
async function revoke(request: LogicalRequest, withKey: boolean): Promise<LogicalResponse | null> {
  const { data } = request;
  const store = new PkiStore(request.storage);
  const serialGiven = stringField("serial_number", data.serial_number);
  const certificateGiven = stringField("certificate", data.certificate);
  if (!serialGiven && !certificateGiven) throw new LogicalError(400, "The serial number or certificate to revoke must be provided.");
  if (serialGiven && certificateGiven) throw new LogicalError(400, "Must provide either the certificate or the serial to revoke; not both.");
  const privateKey = stringField("private_key", data.private_key);
  if (withKey && !privateKey) throw new LogicalError(400, "Must have private key to revoke via the /revoke-with-key path.");
  let serial: string;
  if (certificateGiven) {
    const presented = parseCertificate(certificateGiven.trim());
    serial = normalizeSerial(certificateSerial(presented));
    const stored = await store.cert(serial);
    if (stored && stored.certificate !== toBase64(new Uint8Array(presented.rawData))) {
      throw new LogicalError(400, "certificate with the same serial but unequal value already present in this cluster's storage; refusing to revoke");
    }
  } else {
    serial = requestSerial(serialGiven);
  }
  if (withKey) {
    const stored = await store.cert(serial);
    if (!stored) throw new LogicalError(400, `certificate with serial ${serial.replaceAll("-", ":")} not found.`);
    const certificate = parseCertificate(fromBase64(stored.certificate));
    const key = await importPrivateKey(privateKey);
    if (toBase64(await publicKeyDer(key)) !== toBase64(new Uint8Array(certificate.publicKey.rawData))) {
      throw new LogicalError(400, "public key from provided private key does not match public key from certificate");
    }
  }
  return revokeSerial(store, serial, request.mount.uuid);
}

const DURATION_FIELDS = ["expiry", "ocsp_expiry", "auto_rebuild_grace_period", "delta_rebuild_interval"] as const;
const FLAG_FIELDS = ["disable", "ocsp_disable", "auto_rebuild", "enable_delta"] as const;

function crlConfigData(config: CrlConfig): Record<string, unknown> {
  return { ...config, cross_cluster_revocation: false, unified_crl: false, unified_crl_on_existing_paths: false };
}

export const crlEndpoints: Endpoint<LogicalRequest>[] = [
  { pattern: "revoke", operations: { update: (request) => revoke(request, false) } },
  { pattern: "revoke-with-key", operations: { update: (request) => revoke(request, true) } },
  {
    pattern: "crl/rotate",
    // A read that writes (the new CRL): the active answers it.
    standby: false,
    operations: {
      read: async ({ storage, mount }) => {
        await rebuildAllCrls(new PkiStore(storage), mount.uuid);
        return { data: { success: true } };
      },
    },
  },
  {
    pattern: "config/crl",
    operations: {
      read: async ({ storage }) => ({ data: crlConfigData(await new PkiStore(storage).crlConfig()) }),
      update: async ({ storage, data, mount }) => {
        const store = new PkiStore(storage);
        const config: CrlConfig = { ...(await store.crlConfig()) };
        for (const field of DURATION_FIELDS) {
          if (data[field] === undefined) continue;
          const text = stringField(field, data[field]);
          if (durationSeconds(text) === undefined) throw new LogicalError(400, `given ${field} could not be decoded: ${text}`);
          config[field] = text;
        }
        for (const field of FLAG_FIELDS) config[field] = parseFlag(field, data[field]) ?? config[field];
        if (config.enable_delta && !config.auto_rebuild)
          throw new LogicalError(400, "Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!");
        await writeJson(storage, "config/crl", { ...DEFAULT_CRL_CONFIG, ...config });
        await rebuildAllCrls(store, mount.uuid);
        return { data: crlConfigData(config) };
      },
    },
  },
];
