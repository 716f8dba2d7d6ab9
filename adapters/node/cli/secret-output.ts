/**
 * How Vault's CLI prints an API response (a "secret"): an `auth` block as token rows in Vault's
 * order, otherwise the data map (with `refresh_interval` when the response carries a lease
 * duration); `-field` picks one value from either; `-format=json` prints the whole body.
 */
import { type CliIO, EXIT_OK, type OutputFormat, printField } from "./command.js";
import { formatValue, humanDuration, jsonText, mapTable, table, warningsText } from "./output.js";

export function printSecret(io: CliIO, format: OutputFormat, body: any, field?: string): number {
  if (field !== undefined) return printField(io, format, secretFields(body)[field], field, "the response");
  if (format === "json") {
    io.stdout.write(`${jsonText(body)}\n`);
    return EXIT_OK;
  }
  const warnings = warningsText(body?.warnings);
  if (warnings) io.stderr.write(`${warnings}\n`);
  if (body?.auth) {
    io.stdout.write(`${table(["Key", "Value"], authRows(body.auth))}\n`);
    return EXIT_OK;
  }
  const data: Record<string, unknown> = { ...(body?.data ?? {}) };
  if (body?.lease_duration > 0) data.refresh_interval = body.lease_duration;
  const text = mapTable(data);
  if (text) io.stdout.write(`${text}\n`);
  return EXIT_OK;
}

/** The values `-field` can name: the token rows of an auth block, else the data keys. */
function secretFields(body: any): Record<string, unknown> {
  if (!body?.auth) return body?.data ?? {};
  const auth = body.auth;
  return {
    token: auth.client_token,
    token_accessor: auth.accessor,
    token_duration: auth.lease_duration,
    token_renewable: auth.renewable,
    token_policies: auth.token_policies,
    policies: auth.policies,
  };
}

/** Vault's token rows, in its order: token, accessor, duration, renewable, policies, then token_meta_*. */
function authRows(auth: any): string[][] {
  const policyList = (value: unknown) => `[${(Array.isArray(value) ? value : []).map((p) => JSON.stringify(String(p))).join(" ")}]`;
  const rows = [
    ["token", String(auth.client_token ?? "")],
    ["token_accessor", String(auth.accessor ?? "")],
    ["token_duration", auth.lease_duration > 0 ? humanDuration(auth.lease_duration) : "∞"],
    ["token_renewable", String(auth.renewable ?? false)],
    ["token_policies", policyList(auth.token_policies)],
    ["identity_policies", policyList(auth.identity_policies)],
    ["policies", policyList(auth.policies)],
  ];
  const metadata = auth.metadata ?? {};
  for (const key of Object.keys(metadata).sort()) rows.push([`token_meta_${key}`, formatValue(metadata[key])]);
  return rows;
}
