/**
 * ACL policy documents, as Vault writes them:
 *
 *     path "secret/data/app/*" { capabilities = ["read", "list"] }
 *
 * in HCL, or the same in JSON (`{"path": {"secret/data/app/*": {"capabilities": ["read"]}}}`).
 * A trailing `*` makes a path a prefix glob; a `+` segment matches exactly one path segment.
 * Parsing is strict: features Strongbox does not enforce (parameter constraints, wrapping TTLs) are
 * rejected rather than silently ignored, since ignoring them would widen access. Templated paths
 * (`secret/data/{{identity.entity.id}}/*`) are kept as written and filled in per entity (acl.ts).
 */
import { JsonSyntaxError, parseJson } from "../../sdk/encoding.js";
import { isPlainObject } from "../../sdk/fields.js";
import { type HclItem, type HclValue, HclSyntaxError, parseHcl } from "../../sdk/hcl.js";
import { isTemplated, placeholderKeys, validPathKey } from "../identity/template.js";

export const CAPABILITY_BITS = {
  create: 1 << 0,
  read: 1 << 1,
  update: 1 << 2,
  patch: 1 << 3,
  delete: 1 << 4,
  list: 1 << 5,
  sudo: 1 << 6,
  deny: 1 << 7,
} as const;

export type Capability = keyof typeof CAPABILITY_BITS;

/** The pre-0.5 `policy = "..."` shorthand and the capabilities each stands for. */
const LEGACY_POLICY_CAPABILITIES: Record<string, Capability[]> = {
  deny: ["deny"],
  read: ["read", "list"],
  write: ["create", "read", "update", "delete", "list"],
  sudo: ["create", "read", "update", "delete", "list", "sudo"],
};

/** Keys Vault accepts in a path block that Strongbox does not enforce. */
const UNSUPPORTED_PATH_KEYS = new Set([
  "allowed_parameters",
  "denied_parameters",
  "required_parameters",
  "min_wrapping_ttl",
  "max_wrapping_ttl",
  "mfa_methods",
  "control_group",
  "pagination_limit",
  "response_keys_filter_path",
  "expiration",
]);

export interface PathRule {
  /** The path as written, without a leading "/" (a trailing "*" kept). */
  path: string;
  /** Bitmask of `CAPABILITY_BITS`; a deny rule carries only the deny bit. */
  capabilities: number;
  /** The path holds identity placeholders, filled in from the calling token's entity. */
  templated?: true;
}

export interface Policy {
  name: string;
  /** The text as the client sent it, returned on read. */
  text: string;
  rules: PathRule[];
}

/** A policy the client wrote wrongly; the message says where and why. */
export class PolicyParseError extends Error {
  override name = "PolicyParseError";
}

/** Parses HCL or JSON policy text. */
export function parsePolicy(name: string, text: string): Policy {
  const stanzas = text.trimStart().startsWith("{") ? jsonStanzas(text) : hclStanzas(text);
  return { name, text, rules: stanzas.map(pathRule) };
}

/** The capability names a bitmask holds. */
export function capabilityNames(bits: number): Capability[] {
  return (Object.keys(CAPABILITY_BITS) as Capability[]).filter((name) => (bits & CAPABILITY_BITS[name]) !== 0);
}

interface PathStanza {
  path: string;
  body: Record<string, unknown>;
  /** Where the stanza is, for error messages. */
  where: string;
}

function hclStanzas(text: string): PathStanza[] {
  let items: HclItem[];
  try {
    items = parseHcl(text);
  } catch (error) {
    if (error instanceof HclSyntaxError) throw new PolicyParseError(`failed to parse policy: ${error.message}`);
    throw error;
  }
  const stanzas: PathStanza[] = [];
  for (const item of items) {
    const where = `line ${item.line}`;
    if (item.key === "name" && item.labels.length === 0) continue; // informational, as in Vault
    if (item.key !== "path") throw new PolicyParseError(`failed to parse policy: invalid key "${item.key}" on ${where}`);
    if (item.labels.length !== 1 || typeof item.value !== "object" || Array.isArray(item.value)) {
      throw new PolicyParseError(`failed to parse policy: expected path "<path>" { ... } on ${where}`);
    }
    stanzas.push({ path: item.labels[0]!, body: objectRecord(item.value.items, where), where });
  }
  return stanzas;
}

function jsonStanzas(text: string): PathStanza[] {
  let document: unknown;
  try {
    document = parseJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw new PolicyParseError(`failed to parse policy: invalid JSON: ${error.message}`);
    throw error;
  }
  if (!isPlainObject(document)) throw new PolicyParseError("failed to parse policy: a JSON policy must be an object");
  const stanzas: PathStanza[] = [];
  for (const [key, value] of Object.entries(document)) {
    if (key === "name") continue;
    if (key !== "path") throw new PolicyParseError(`failed to parse policy: invalid key "${key}"`);
    // HCL's JSON form allows the path map itself or a list of such maps.
    for (const group of Array.isArray(value) ? value : [value]) {
      if (!isPlainObject(group)) throw new PolicyParseError(`failed to parse policy: "path" must map paths to objects`);
      for (const [path, body] of Object.entries(group)) {
        if (!isPlainObject(body)) throw new PolicyParseError(`failed to parse policy: path "${path}" must be an object`);
        stanzas.push({ path, body, where: `path "${path}"` });
      }
    }
  }
  return stanzas;
}

function pathRule({ path: rawPath, body, where }: PathStanza): PathRule {
  const path = rawPath.replace(/^\/+/, "");
  const fail = (message: string): never => {
    throw new PolicyParseError(`failed to parse policy: path "${rawPath}" (${where}): ${message}`);
  };
  const templated = isTemplated(path);
  for (const key of templated ? placeholderKeys(path) : []) if (!validPathKey(key)) fail(`unknown or unsupported template key "${key}"`);
  if (path.includes("+*")) fail(`invalid use of wildcards ("+*" is forbidden)`);
  if (path.slice(0, -1).includes("*")) fail(`"*" is only allowed at the end of a path (use "+" to match one segment)`);

  let capabilities = 0;
  for (const [key, value] of Object.entries(body)) {
    if (key === "comment") continue;
    if (key === "capabilities") {
      if (!Array.isArray(value) || value.some((c) => typeof c !== "string")) fail(`"capabilities" must be a list of strings`);
      for (const name of value as string[]) {
        const bit = CAPABILITY_BITS[name.toLowerCase() as Capability];
        if (bit === undefined) fail(`invalid capability "${name}" (valid: ${Object.keys(CAPABILITY_BITS).join(", ")})`);
        capabilities |= bit;
      }
    } else if (key === "policy") {
      const legacy = typeof value === "string" ? LEGACY_POLICY_CAPABILITIES[value.toLowerCase()] : undefined;
      if (!legacy) fail(`invalid "policy" value ${JSON.stringify(value)} (valid: deny, read, write, sudo)`);
      for (const name of legacy!) capabilities |= CAPABILITY_BITS[name];
    } else if (UNSUPPORTED_PATH_KEYS.has(key)) {
      fail(`"${key}" is not supported by Strongbox`);
    } else {
      fail(`invalid key "${key}"`);
    }
  }
  // Deny overrides everything else on the same path.
  if (capabilities & CAPABILITY_BITS.deny) capabilities = CAPABILITY_BITS.deny;
  return { path, capabilities, ...(templated && { templated: true }) };
}

function objectRecord(items: HclItem[], where: string): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const item of items) {
    if (item.labels.length > 0) throw new PolicyParseError(`failed to parse policy: unexpected block "${item.key}" on line ${item.line} (${where})`);
    if (item.key in record) throw new PolicyParseError(`failed to parse policy: "${item.key}" set twice on line ${item.line} (${where})`);
    record[item.key] = plain(item.value);
  }
  return record;
}

function plain(value: HclValue): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object") return Object.fromEntries(value.items.map((item) => [item.key, plain(item.value)]));
  return value;
}
