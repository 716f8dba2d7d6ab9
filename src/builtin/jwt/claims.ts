/**
 * What a JWT role asks of a verified token's claims, as Vault's JWT method reads them: a claim is
 * named by key, or by a JSON pointer (RFC 6901) when it starts with "/"; numbers compare as their
 * integer text (Vault turns JSON floats into json.Number that way).
 */
import { ExactNumber } from "../../sdk/encoding.js";
import { globMatch } from "../../sdk/glob.js";
import { LogicalError } from "../../sdk/types.js";

/** A claim or bound value in comparable form: strings, booleans and numbers stay apart. */
type Scalar = { kind: "string" | "bool" | "number"; text: string };

export function getClaim(claims: Record<string, unknown>, name: string): unknown {
  if (!name.startsWith("/")) return Object.hasOwn(claims, name) ? claims[name] : undefined;
  let value: unknown = claims;
  for (const raw of name.slice(1).split("/")) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(value) && /^(0|[1-9]\d*)$/.test(token)) value = value[Number(token)];
    else if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.hasOwn(value, token))
      value = (value as Record<string, unknown>)[token];
    else return undefined;
  }
  return value;
}

/** A string, bool, number or list of them as a list of scalars; null for anything else (Vault's normalizeList). */
function scalars(value: unknown, claimSide: boolean): Scalar[] | null {
  const one = (item: unknown): Scalar | null => {
    if (typeof item === "string") return { kind: "string", text: item };
    if (typeof item === "boolean") return { kind: "bool", text: String(item) };
    if (typeof item === "number") return { kind: "number", text: claimSide ? String(Math.trunc(item)) : String(item) };
    if (item instanceof ExactNumber) return { kind: "number", text: item.text };
    return null;
  };
  if (!Array.isArray(value)) {
    const single = one(value);
    return single && [single];
  }
  const list = value.map(one);
  return list.every((item) => item !== null) ? (list as Scalar[]) : null;
}

/** Vault's check of `bound_claims` (every claim must match one of its values); its error texts. */
export function checkBoundClaims(boundClaims: Record<string, unknown>, type: string, claims: Record<string, unknown>): void {
  for (const [claim, expected] of Object.entries(boundClaims)) {
    const actual = getClaim(claims, claim);
    if (actual === undefined || actual === null) throw new Error(`claim ${JSON.stringify(claim)} is missing`);
    const actualValues = scalars(actual, true);
    if (!actualValues) throw new Error(`received claim is not a string, bool, int or list: ${goText(actual)}`);
    const expectedValues = scalars(expected, false);
    if (!expectedValues) throw new Error(`bound claim is not a string, bool, int or list: ${goText(expected)}`);
    const found = expectedValues.some((want) =>
      actualValues.some((have) =>
        type === "glob" ? have.kind === "string" && globMatch(want.text, have.text) : have.kind === want.kind && have.text === want.text,
      ),
    );
    if (!found) throw new Error(`claim ${JSON.stringify(claim)} does not match any associated bound claim values`);
  }
}

/** `bound_claims` as a role stores it: an object of scalars or lists of scalars (strings only for globs). */
export function parseBoundClaims(value: unknown, type: string): Record<string, unknown> {
  const parsed = typeof value === "string" ? parseObjectText("bound_claims", value) : value;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new LogicalError(400, `"bound_claims" must be a JSON object`);
  for (const claimValues of Object.values(parsed)) {
    const list = scalars(claimValues, false);
    if (!list) throw new LogicalError(400, `claim is not a string or list: ${goText(claimValues)}`);
    if (type === "glob") {
      const notText = list.find((item) => item.kind !== "string");
      if (notText) throw new LogicalError(400, `claim is not a string: ${notText.text}`);
    }
  }
  return parsed as Record<string, unknown>;
}

/** `claim_mappings`: claim → metadata key, as an object of strings or "claim=key,…" text. */
export function parseClaimMappings(value: unknown): Record<string, string> {
  let mappings: unknown = value;
  if (typeof value === "string") {
    mappings = Object.fromEntries(
      value
        .split(",")
        .filter((pair) => pair.trim() !== "")
        .map((pair) => {
          const at = pair.indexOf("=");
          if (at < 0) throw new LogicalError(400, `"claim_mappings": ${JSON.stringify(pair)} is not of the form claim=key`);
          return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
        }),
    );
  }
  if (typeof mappings !== "object" || mappings === null || Array.isArray(mappings) || Object.values(mappings).some((v) => typeof v !== "string")) {
    throw new LogicalError(400, `"claim_mappings" must be an object of strings`);
  }
  const seen = new Set<string>();
  for (const target of Object.values(mappings as Record<string, string>)) {
    if (target === "role") throw new LogicalError(400, `metadata key "role" is reserved and may not be a mapping destination`);
    if (seen.has(target)) throw new LogicalError(400, `multiple keys are mapped to metadata key ${JSON.stringify(target)}`);
    seen.add(target);
  }
  return mappings as Record<string, string>;
}

/** Metadata from `claim_mappings`: absent claims are skipped, non-strings refused (Vault's extractMetadata). */
export function mappedMetadata(claims: Record<string, unknown>, mappings: Record<string, string>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [source, target] of Object.entries(mappings)) {
    const value = getClaim(claims, source);
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") throw new Error(`error converting claim '${source}' to string`);
    metadata[target] = value;
  }
  return metadata;
}

/** The groups claim's values (a list of strings, or one string), empties dropped. */
export function groupNames(claims: Record<string, unknown>, groupsClaim: string): string[] {
  const raw = getClaim(claims, groupsClaim);
  const list = typeof raw === "string" || typeof raw === "boolean" || typeof raw === "number" ? [raw] : raw;
  if (!Array.isArray(list)) throw new Error(`${JSON.stringify(groupsClaim)} claim could not be converted to string list`);
  for (const item of list) if (typeof item !== "string") throw new Error(`value ${goText(item)} in groups claim could not be parsed as string`);
  return (list as string[]).filter((group) => group !== "");
}

function parseObjectText(field: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new LogicalError(400, `"${field}" must be a JSON object`);
  }
}

/** A value in error texts, about as Go's %v prints it. */
function goText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goText).join(" ")}]`;
  if (typeof value === "object" && value !== null) return value instanceof ExactNumber ? value.text : JSON.stringify(value);
  return String(value);
}
