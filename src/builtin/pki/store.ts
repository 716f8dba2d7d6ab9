/**
 * What the PKI engine keeps in its mount's storage, and the typed reads and writes of it:
 *
 *     config/keys              { default }                       the default key
 *     config/key/<id>          KeyEntry                           a private key (PKCS#8)
 *     config/issuers           { default, default_follows_latest_issuer }
 *     config/issuer/<id>       IssuerEntry                        a CA certificate, its key's id, its chain
 *     config/urls, config/crl  the AIA/CRL URLs and the CRL settings
 *     role/<name>              a role
 *     certs/<serial>           CertEntry                          every certificate issued (unless no_store)
 *     revoked/<serial>         RevokedEntry                       every revocation
 *     crls/<issuer id>         CrlEntry                           the issuer's signed CRL
 *
 * Serials in keys are Vault's hyphenated form ("1a-2b-…"), as `certs` lists them. Everything a
 * certificate's existence or revocation depends on is written before the request is answered, so
 * a node that becomes active later (or a standby serving a read) sees it.
 */
import { decodeJson, encodeJson, randomUuid } from "../../sdk/encoding.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import type { KeyMaterial } from "./keys.js";

export interface KeyEntry extends KeyMaterial {
  id: string;
  name: string;
}

export interface IssuerEntry {
  id: string;
  name: string;
  /** "" when the engine holds no private key for it (an imported CA certificate alone). */
  key_id: string;
  certificate: string;
  /** This certificate, then its issuers' up to a root, PEM each (built from the issuers known here). */
  ca_chain: string[];
  manual_chain: string[] | null;
  leaf_not_after_behavior: "err" | "truncate" | "permit";
  usage: string;
  revocation_signature_algorithm: string;
  issuing_certificates: string[];
  crl_distribution_points: string[];
  ocsp_servers: string[];
}

export interface CertEntry {
  /** DER, base64. */
  certificate: string;
  issuer_id: string;
}

export interface RevokedEntry {
  serial_number: string;
  /** Unix seconds. */
  revocation_time: number;
  revocation_time_rfc3339: string;
  issuer_id: string;
  /** DER of the certificate, base64, so tidy can judge its expiry after certs/ is tidied. */
  certificate: string;
}

export interface CrlEntry {
  /** DER, base64. */
  der: string;
  number: number;
  /** Epoch ms of the CRL's nextUpdate. */
  next_update: number;
}

export interface UrlsConfig {
  issuing_certificates: string[];
  crl_distribution_points: string[];
  ocsp_servers: string[];
  enable_templating: boolean;
}

export interface CrlConfig {
  expiry: string;
  disable: boolean;
  ocsp_disable: boolean;
  ocsp_expiry: string;
  auto_rebuild: boolean;
  auto_rebuild_grace_period: string;
  enable_delta: boolean;
  delta_rebuild_interval: string;
}

export const DEFAULT_URLS: UrlsConfig = { issuing_certificates: [], crl_distribution_points: [], ocsp_servers: [], enable_templating: false };

export const DEFAULT_CRL_CONFIG: CrlConfig = {
  expiry: "72h",
  disable: false,
  ocsp_disable: false,
  ocsp_expiry: "12h",
  auto_rebuild: false,
  auto_rebuild_grace_period: "12h",
  enable_delta: false,
  delta_rebuild_interval: "15m",
};

export async function readJson<T>(storage: Storage, key: string): Promise<T | null> {
  const bytes = await storage.get(key);
  return bytes ? decodeJson<T>(bytes) : null;
}

export function writeJson(storage: Storage, key: string, value: unknown): Promise<void> {
  return storage.put(key, encodeJson(value));
}

/** Vault's hyphenated serial ("1a-2b"), from either that or the colon form. */
export function normalizeSerial(serial: string): string {
  return serial.trim().toLowerCase().replaceAll(":", "-");
}

/** Vault's colon-separated serial ("1a:2b"), from hex. */
export function colonSerial(hex: string): string {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return even.toLowerCase().match(/../g)!.join(":");
}

/** A serial from a request: hex pairs separated by ":" or "-"; 400 otherwise (it becomes a storage key). */
export function requestSerial(raw: unknown): string {
  const serial = typeof raw === "string" ? normalizeSerial(raw) : "";
  if (!/^[0-9a-f]{2}(-[0-9a-f]{2})*$/.test(serial)) {
    throw new LogicalError(400, serial === "" ? "The serial number must be provided" : `invalid serial number ${JSON.stringify(raw)}`);
  }
  return serial;
}

/** Issuer and key identifiers are UUIDs; names are what Vault allows for them. */
export const newId = randomUuid;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAME = /^[A-Za-z0-9_-]{1,128}$/;

export function checkObjectName(name: string, what: "issuer" | "key"): string {
  if (name === "default") throw new LogicalError(400, `reserved keyword 'default' can not be used as ${what} name`);
  if (name !== "" && !NAME.test(name)) throw new LogicalError(400, `${what} name contained invalid characters`);
  return name;
}

export class PkiStore {
  constructor(readonly storage: Storage) {}

  async keyIds(): Promise<string[]> {
    return this.storage.list("config/key/");
  }

  async issuerIds(): Promise<string[]> {
    return this.storage.list("config/issuer/");
  }

  async key(id: string): Promise<KeyEntry | null> {
    return readJson<KeyEntry>(this.storage, `config/key/${id}`);
  }

  async issuer(id: string): Promise<IssuerEntry | null> {
    return readJson<IssuerEntry>(this.storage, `config/issuer/${id}`);
  }

  async issuers(): Promise<IssuerEntry[]> {
    const entries = await Promise.all((await this.issuerIds()).map((id) => this.issuer(id)));
    return entries.filter((entry): entry is IssuerEntry => entry !== null);
  }

  async keys(): Promise<KeyEntry[]> {
    const entries = await Promise.all((await this.keyIds()).map((id) => this.key(id)));
    return entries.filter((entry): entry is KeyEntry => entry !== null);
  }

  putKey(entry: KeyEntry): Promise<void> {
    return writeJson(this.storage, `config/key/${entry.id}`, entry);
  }

  putIssuer(entry: IssuerEntry): Promise<void> {
    return writeJson(this.storage, `config/issuer/${entry.id}`, entry);
  }

  async issuerConfig(): Promise<{ default: string; default_follows_latest_issuer: boolean }> {
    return (await readJson(this.storage, "config/issuers")) ?? { default: "", default_follows_latest_issuer: false };
  }

  async keyConfig(): Promise<{ default: string }> {
    return (await readJson(this.storage, "config/keys")) ?? { default: "" };
  }

  /** `ref` (an id, a name, or "default") to an issuer; 400 as Vault when none. */
  async resolveIssuer(ref: string): Promise<IssuerEntry> {
    const found = await this.findIssuer(ref);
    if (found) return found;
    if (ref === "default") throw new LogicalError(400, "no default issuer currently configured");
    throw new LogicalError(400, `unable to find PKI issuer for reference: ${ref}`);
  }

  async findIssuer(ref: string): Promise<IssuerEntry | null> {
    if (ref === "" || ref === "default") {
      const { default: id } = await this.issuerConfig();
      return id ? this.issuer(id) : null;
    }
    if (UUID.test(ref)) {
      const byId = await this.issuer(ref);
      if (byId) return byId;
    }
    return (await this.issuers()).find((issuer) => issuer.name === ref) ?? null;
  }

  async resolveKey(ref: string): Promise<KeyEntry> {
    let found: KeyEntry | null = null;
    if (ref === "" || ref === "default") {
      const { default: id } = await this.keyConfig();
      found = id ? await this.key(id) : null;
    } else {
      found = (UUID.test(ref) ? await this.key(ref) : null) ?? (await this.keys()).find((key) => key.name === ref) ?? null;
    }
    if (!found) throw new LogicalError(400, `unable to find PKI key for reference: ${ref}`);
    return found;
  }

  async cert(serial: string): Promise<CertEntry | null> {
    return readJson<CertEntry>(this.storage, `certs/${serial}`);
  }

  async revoked(serial: string): Promise<RevokedEntry | null> {
    return readJson<RevokedEntry>(this.storage, `revoked/${serial}`);
  }

  async urls(): Promise<UrlsConfig> {
    return { ...DEFAULT_URLS, ...(await readJson<UrlsConfig>(this.storage, "config/urls")) };
  }

  async crlConfig(): Promise<CrlConfig> {
    return { ...DEFAULT_CRL_CONFIG, ...(await readJson<CrlConfig>(this.storage, "config/crl")) };
  }
}
