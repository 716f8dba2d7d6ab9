/**
 * Which names a role allows in a certificate, by Vault's rules: localhost, the role's domains
 * (bare, subdomains, globs), wildcards in the left-most label (RFC 6125), email addresses by their
 * domain, `enforce_hostnames`, `allow_any_name`; and which IP and URI SANs it allows.
 */
import { LogicalError } from "../../sdk/types.js";
import type { RoleEntry } from "./roles.js";
import { globMatch } from "../../sdk/glob.js";

const LABEL = "([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOSTNAME = new RegExp(`^(\\*\\.)?(${LABEL}\\.)*${LABEL}\\.?$`);
const WILDCARD_LABEL = new RegExp(`^(\\*|\\*${LABEL}|${LABEL}\\*|${LABEL}\\*${LABEL})$`);
/** DNS length limits (idna's VerifyDNSLength): 253 characters, 63 per label. */
const MAX_NAME = 253;
const MAX_LABEL = 63;

/** The first of `names` the role does not allow, or null when it allows them all. */
export function firstDisallowedName(role: RoleEntry, names: string[]): string | null {
  for (const name of names) if (!nameAllowed(role, name)) return name;
  return null;
}

function nameAllowed(role: RoleEntry, name: string): boolean {
  let reduced = name;
  let emailDomain = name;
  let isEmail = false;
  let isWildcard = false;
  let wildcardLabel = "";
  if (name.includes("@")) {
    const parts = name.split("@");
    if (parts.length !== 2) return false;
    reduced = emailDomain = parts[1]!;
    isEmail = true;
  }
  if (reduced.includes("*")) {
    isWildcard = true;
    if (!role.allow_wildcard_certificates) return false;
    if (reduced.split("*").length > 2) return false;
    const dot = reduced.indexOf(".");
    wildcardLabel = dot < 0 ? reduced : reduced.slice(0, dot);
    reduced = dot < 0 ? "" : reduced.slice(dot + 1);
    if (reduced.includes("*")) return false;
  }
  if (isEmail && isWildcard) return false;
  if (role.enforce_hostnames) {
    if (reduced !== "" && !isHostname(reduced)) return false;
    if (isWildcard && !WILDCARD_LABEL.test(wildcardLabel)) return false;
  }
  if (role.allow_any_name) return true;
  if (role.allow_localhost) {
    if (reduced === "localhost" || reduced === "localdomain") return true;
    if (isEmail && (emailDomain === "localhost" || emailDomain === "localdomain")) return true;
    if (role.allow_subdomains) {
      for (const base of ["localhost", "localdomain"]) {
        if (reduced.endsWith(`.${base}`) || (isWildcard && reduced === base)) return true;
      }
    }
  }
  for (const domain of role.allowed_domains) {
    if (domain === "") continue;
    if (role.allow_bare_domains && (equalFold(name, domain) || (isEmail && equalFold(emailDomain, domain)))) return true;
    if (role.allow_subdomains && (reduced.endsWith(`.${domain}`) || (isWildcard && equalFold(reduced, domain)))) return true;
    if (role.allow_glob_domains && domain.includes("*") && globMatch(domain, name)) return true;
  }
  return false;
}

function isHostname(name: string): boolean {
  if (name.length > MAX_NAME || name.split(".").some((label) => label.length > MAX_LABEL)) return false;
  return HOSTNAME.test(name);
}

function equalFold(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Vault's common name check: the domain rules, then `cn_validations` (email or hostname, or "disabled"). */
export function commonNameAllowed(role: RoleEntry, commonName: string): boolean {
  if (role.cn_validations.length === 1 && role.cn_validations[0] === "disabled") return true;
  if (!nameAllowed(role, commonName)) return false;
  return role.cn_validations.includes(commonName.includes("@") ? "email" : "hostname");
}

/** Whether a name goes into the DNS SANs (Vault drops names that are not hostnames). */
export function isDnsName(name: string): boolean {
  return isHostname(name);
}

/** An IP SAN as text Vault accepts: IPv4 dotted quad or IPv6. */
export function checkIpAddress(value: string): string {
  const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
  if (ipv4.test(value) || isIpv6(value)) return value;
  throw new LogicalError(400, `the value "${value}" is not a valid IP address`);
}

function isIpv6(value: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(value) || !value.includes(":")) return false;
  try {
    return new URL(`http://[${value}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/** The role's rules for IP SANs; `source` is "the API" or "CSR" as in Vault's messages. */
export function checkIpSans(role: RoleEntry, ips: string[], source: string): void {
  if (ips.length > 0 && !role.allow_ip_sans) {
    throw new LogicalError(400, `IP Subject Alternative Names are not allowed in this role, but was provided via ${source}`);
  }
}

/** The role's rules for URI SANs (`allowed_uri_sans`, globs). */
export function checkUriSans(role: RoleEntry, uris: string[], source: string): void {
  if (uris.length === 0) return;
  if (role.allowed_uri_sans.length === 0) {
    throw new LogicalError(400, `URI Subject Alternative Names are not allowed in this role, but were provided via ${source}`);
  }
  for (const uri of uris) {
    if (!URL.canParse(uri)) throw new LogicalError(400, `the provided URI Subject Alternative Name "${uri}" is not a valid URI`);
    if (!role.allowed_uri_sans.some((pattern) => globMatch(pattern, uri))) {
      throw new LogicalError(400, `URI Subject Alternative Names were provided via ${source} which are not valid for this role`);
    }
  }
}
