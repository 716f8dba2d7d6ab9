/**
 * Table output shaped like Vault's CLI (columns four spaces apart, `---` under the header, empty
 * cells as `n/a`, values printed the way Go's `%v` prints decoded JSON), so people and scripts used
 * to `vault` read ours the same way. Pure functions: each returns text without a trailing newline.
 */

const COLUMN_GAP = "    ";
const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/** Aligned columns; the last column is not padded. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  const cells = rows.map((row) => row.map((cell) => (cell.trim() === "" ? "n/a" : cell.trim())));
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - [...cell].length))).join(COLUMN_GAP)).join("\n");
}

/** Columns under a header row and its `---` underline. */
export function table(header: string[], rows: string[][]): string {
  return columns([header, header.map((title) => "-".repeat(title.length)), ...rows]);
}

/** Go's `%v` of a JSON value: `<nil>`, `[a b]`, `map[k:v]` with sorted keys. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "<nil>";
  if (Array.isArray(value)) return `[${value.map(formatValue).join(" ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compare(a, b));
    return `map[${entries.map(([k, v]) => `${k}:${formatValue(v)}`).join(" ")}]`;
  }
  return String(value);
}

/** `Key  Value` rows of a map, sorted by key; durations-looking integer fields as `1h2m`. Empty map → "". */
export function mapTable(data: Record<string, unknown>): string {
  const keys = Object.keys(data).sort(compare);
  if (keys.length === 0) return "";
  return table(
    ["Key", "Value"],
    keys.map((key) => [key, formatField(key, data[key])]),
  );
}

/** The `Keys` table of a LIST answer, sorted. */
export function listTable(keys: string[]): string {
  return table(
    ["Keys"],
    [...keys].sort(compare).map((key) => [key]),
  );
}

/** `== title ==` padded with equal signs to about `width` characters. */
export function padEqualSigns(title: string, width: number): string {
  let signs = width - (title.length + 2);
  if (signs <= 0) signs = 4;
  if (signs % 2 !== 0) signs += 1;
  const side = "=".repeat(signs / 2);
  return `${side} ${title} ${side}`;
}

/** A section title as wide as the `Key  Value` table of `data` below it. */
export function headerForMap(title: string, data: Record<string, unknown>): string {
  const longestKey = Math.max(0, ...Object.keys(data).map((key) => key.length));
  return padEqualSigns(title, longestKey + COLUMN_GAP.length + "Value".length);
}

/** `== Secret Path ==` / the API path / a blank line. */
export function pathHeader(title: string, path: string): string {
  return `${padEqualSigns(title, path.length)}\n${path}\n`;
}

/** Whole seconds as Go prints a duration, shortened as Vault does: 3600 → `1h`, 90 → `1m30s`. */
export function humanDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  const sign = seconds < 0 ? "-" : "";
  const total = Math.abs(Math.trunc(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  let text = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  if (text.endsWith("m0s")) text = text.slice(0, -2);
  text = text.replace(/h0m$/, "h");
  return sign + text;
}

/** The warnings block Vault's CLI prints (to stderr) before a response. */
export function warningsText(warnings: unknown): string {
  if (!Array.isArray(warnings) || warnings.length === 0) return "";
  return `WARNING! The server returned these warnings:\n\n${warnings.map((w) => `* ${String(w)}`).join("\n\n")}\n`;
}

export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** `GET sys/seal-status` merged with `GET sys/leader`. */
export interface SealStatusView {
  type?: string;
  initialized?: boolean;
  sealed?: boolean;
  t?: number;
  n?: number;
  progress?: number;
  nonce?: string;
  version?: string;
  build_date?: string;
  storage_type?: string;
  cluster_name?: string;
  cluster_id?: string;
  migration?: boolean;
  recovery_seal?: boolean;
  ha_enabled?: boolean;
  is_self?: boolean;
  active_time?: string;
  leader_address?: string;
  leader_cluster_address?: string;
  warnings?: string[];
}

/** The `status` / `operator unseal` table, with Vault's rows in Vault's order. */
export function sealStatusTable(status: SealStatusView): string {
  const recovery = status.recovery_seal ? "Recovery " : "";
  const rows: string[][] = [
    [`${recovery}Seal Type`, status.type ?? ""],
    ["Initialized", String(status.initialized ?? false)],
    ["Sealed", String(status.sealed ?? false)],
    [`Total ${recovery}Shares`, String(status.n ?? 0)],
    ["Threshold", String(status.t ?? 0)],
  ];
  if (status.sealed) {
    rows.push(["Unseal Progress", `${status.progress ?? 0}/${status.t ?? 0}`], ["Unseal Nonce", status.nonce ?? ""]);
  }
  if (status.migration) rows.push(["Seal Migration in Progress", "true"]);
  rows.push(["Version", status.version ?? ""], ["Build Date", status.build_date ?? ""], ["Storage Type", status.storage_type ?? ""]);
  if (status.cluster_name && status.cluster_id) rows.push(["Cluster Name", status.cluster_name], ["Cluster ID", status.cluster_id]);
  rows.push(["HA Enabled", String(status.ha_enabled ?? false)]);
  if (status.ha_enabled && !status.sealed) {
    rows.push(["HA Cluster", status.leader_cluster_address ?? ""]);
    if (status.is_self) {
      rows.push(["HA Mode", "active"]);
      if (status.active_time && status.active_time !== GO_ZERO_TIME) rows.push(["Active Since", status.active_time]);
    } else {
      rows.push(["HA Mode", "standby"], ["Active Node Address", status.leader_address || "<none>"]);
    }
  }
  if (status.warnings && status.warnings.length > 0) rows.push(["Warnings", formatValue(status.warnings)]);
  return table(["Key", "Value"], rows);
}

/** Go's `sort.Strings`: byte order, not locale order. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function formatField(key: string, value: unknown): string {
  if (looksLikeDuration(key) && typeof value === "number" && Number.isInteger(value)) return humanDuration(value);
  return formatValue(value);
}

function looksLikeDuration(key: string): boolean {
  return ["period", "ttl", "duration"].some((word) => key === word || key.endsWith(`_${word}`)) || key === "lease_max" || key === "ttl_max";
}
