/**
 * `roles/:name`: what a role lets `issue/` and `sign/` put in a certificate, with Vault's fields and
 * defaults. A write replaces the role (fields left out take their defaults), as in Vault, and
 * answers with the role as stored.
 */
import { parseCount, parseFlag, parseNonNegativeDuration } from "../../sdk/fields.js";
import type { Endpoint } from "../../sdk/framework.js";
import { listResponse, notFound } from "../../sdk/responses.js";
import { type LogicalRequest, LogicalError, type Storage } from "../../sdk/types.js";
import { checkKeyParameters } from "./keys.js";
import { readJson, writeJson } from "./store.js";

export interface RoleEntry {
  ttl: number;
  max_ttl: number;
  allow_localhost: boolean;
  allowed_domains: string[];
  allowed_domains_template: boolean;
  allow_bare_domains: boolean;
  allow_subdomains: boolean;
  allow_glob_domains: boolean;
  allow_wildcard_certificates: boolean;
  allow_any_name: boolean;
  enforce_hostnames: boolean;
  allow_ip_sans: boolean;
  allowed_uri_sans: string[];
  allowed_uri_sans_template: boolean;
  allowed_other_sans: string[];
  allowed_serial_numbers: string[];
  allowed_user_ids: string[];
  server_flag: boolean;
  client_flag: boolean;
  code_signing_flag: boolean;
  email_protection_flag: boolean;
  key_type: string;
  key_bits: number;
  signature_bits: number;
  use_pss: boolean;
  key_usage: string[];
  ext_key_usage: string[];
  ext_key_usage_oids: string[];
  use_csr_common_name: boolean;
  use_csr_sans: boolean;
  ou: string[];
  organization: string[];
  country: string[];
  locality: string[];
  province: string[];
  street_address: string[];
  postal_code: string[];
  generate_lease: boolean;
  no_store: boolean;
  require_cn: boolean;
  cn_validations: string[];
  policy_identifiers: string[];
  basic_constraints_valid_for_non_ca: boolean;
  not_before_duration: number;
  not_after: string;
  issuer_ref: string;
  allow_token_displayname: boolean;
}

const FLAG_DEFAULTS = {
  allow_localhost: true,
  allowed_domains_template: false,
  allow_bare_domains: false,
  allow_subdomains: false,
  allow_glob_domains: false,
  allow_wildcard_certificates: true,
  allow_any_name: false,
  enforce_hostnames: true,
  allow_ip_sans: true,
  allowed_uri_sans_template: false,
  server_flag: true,
  client_flag: true,
  code_signing_flag: false,
  email_protection_flag: false,
  use_pss: false,
  use_csr_common_name: true,
  use_csr_sans: true,
  generate_lease: false,
  no_store: false,
  require_cn: true,
  basic_constraints_valid_for_non_ca: false,
  allow_token_displayname: false,
} as const;

const LIST_DEFAULTS = {
  allowed_domains: [],
  allowed_uri_sans: [],
  allowed_other_sans: [],
  allowed_serial_numbers: [],
  allowed_user_ids: [],
  key_usage: ["DigitalSignature", "KeyAgreement", "KeyEncipherment"],
  ext_key_usage: [],
  ext_key_usage_oids: [],
  ou: [],
  organization: [],
  country: [],
  locality: [],
  province: [],
  street_address: [],
  postal_code: [],
  cn_validations: ["email", "hostname"],
  policy_identifiers: [],
} as const;

/** Vault's comma-separated string lists: a JSON array of strings, or "a,b" text. */
export function stringList(field: string, value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value === "" ? [] : value.split(",").map((item) => item.trim());
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
    return value.flatMap((item: string) => item.split(",")).map((item) => item.trim());
  }
  throw new LogicalError(400, `invalid ${field}: expected a list of strings or comma-separated text`);
}

export function stringField(field: string, value: unknown, fallback = ""): string {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new LogicalError(400, `invalid ${field}: expected a string`);
}

/** Role names as Vault's framework.GenericNameRegex takes them. */
function roleName(raw: string): string {
  if (!/^\w(([\w.-]+)?\w)?$/.test(raw)) throw new LogicalError(400, `invalid role name ${JSON.stringify(raw)}`);
  return raw;
}

export function parseRole(data: Record<string, unknown>): RoleEntry {
  const flags = Object.fromEntries(Object.entries(FLAG_DEFAULTS).map(([field, fallback]) => [field, parseFlag(field, data[field]) ?? fallback])) as {
    [K in keyof typeof FLAG_DEFAULTS]: boolean;
  };
  const lists = Object.fromEntries(Object.entries(LIST_DEFAULTS).map(([field, fallback]) => [field, stringList(field, data[field]) ?? [...fallback]])) as {
    [K in keyof typeof LIST_DEFAULTS]: string[];
  };
  const key_type = stringField("key_type", data.key_type, "rsa");
  const requestedBits = parseCount("key_bits", data.key_bits) ?? 0;
  const key_bits = checkKeyParameters(key_type, requestedBits, true);
  const role: RoleEntry = {
    ...flags,
    ...lists,
    ttl: parseNonNegativeDuration("ttl", data.ttl) ?? 0,
    max_ttl: parseNonNegativeDuration("max_ttl", data.max_ttl) ?? 0,
    key_type,
    key_bits,
    signature_bits: signatureBits(key_type, parseCount("signature_bits", data.signature_bits) ?? 0),
    not_before_duration: parseNonNegativeDuration("not_before_duration", data.not_before_duration) ?? 30,
    not_after: stringField("not_after", data.not_after),
    issuer_ref: stringField("issuer_ref", data.issuer_ref) || "default",
    cn_validations: checkCnValidations(lists.cn_validations),
  };
  // Options this server does not implement are refused rather than ignored (see docs/pki.md).
  for (const field of ["use_pss", "allowed_domains_template", "allowed_uri_sans_template", "allow_token_displayname"] as const) {
    if (role[field]) throw new LogicalError(400, `${field} is not supported by this server`);
  }
  if (role.max_ttl > 0 && role.ttl > role.max_ttl) throw new LogicalError(400, `"ttl" value must be less than "max_ttl" value`);
  for (const oid of role.ext_key_usage_oids) {
    if (!/^\d+(\.\d+)+$/.test(oid)) throw new LogicalError(400, `"${oid}" could not be parsed as a valid oid for an extended key usage`);
  }
  for (const oid of role.policy_identifiers) {
    if (!/^\d+(\.\d+)+$/.test(oid)) throw new LogicalError(400, `invalid policy identifier ${JSON.stringify(oid)}`);
  }
  return role;
}

/** `signature_bits` 0 means the key type's default: SHA-256 for RSA, the curve's hash for EC. */
export function signatureBits(keyType: string, bits: number): number {
  if (bits !== 0 && ![256, 384, 512].includes(bits)) throw new LogicalError(400, `unsupported signature_bits value: ${bits}`);
  return bits === 0 && keyType === "rsa" ? 256 : bits;
}

function checkCnValidations(values: string[]): string[] {
  const chosen = values.filter((value) => value !== "");
  if (chosen.includes("disabled")) {
    if (chosen.length > 1) throw new LogicalError(400, "cannot specify 'disabled' along with other cn_validations");
    return ["disabled"];
  }
  for (const value of chosen) {
    if (value !== "email" && value !== "hostname") throw new LogicalError(400, `unknown value for cn_validations: ${value}`);
  }
  return chosen.length > 0 ? [...new Set(chosen)] : ["email", "hostname"];
}

export async function readRole(storage: Storage, name: string): Promise<RoleEntry | null> {
  return readJson<RoleEntry>(storage, `role/${name}`);
}

/** The role `issue/`, `sign/` name, or Vault's 400 "unknown role". */
export async function requireRole(storage: Storage, name: string): Promise<RoleEntry> {
  const role = /^\w(([\w.-]+)?\w)?$/.test(name) ? await readRole(storage, name) : null;
  if (!role) throw new LogicalError(400, `unknown role: ${name}`);
  return role;
}

export const roleEndpoints: Endpoint<LogicalRequest>[] = [
  {
    pattern: "roles",
    operations: { list: async ({ storage }) => listResponse(await storage.list("role/")) },
  },
  {
    pattern: "roles/:name",
    exists: async ({ storage }, { name }) => (await readRole(storage, roleName(name!))) !== null,
    operations: {
      read: async ({ storage }, { name }) => {
        const role = await readRole(storage, roleName(name!));
        if (!role) throw notFound();
        return { data: { ...role } };
      },
      update: async ({ storage, data }, { name }) => {
        const role = parseRole(data);
        await writeJson(storage, `role/${roleName(name!)}`, role);
        return { data: { ...role } };
      },
      delete: async ({ storage }, { name }) => {
        await storage.delete(`role/${roleName(name!)}`);
        return null;
      },
    },
  },
];
