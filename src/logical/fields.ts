/**
 * Parsing of request fields the way Vault's framework accepts them (JSON values or query-string
 * text), and formatting of durations and times the way Vault (Go) prints them.
 */

import { LogicalError } from "./types.js";

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-negative integer given as a JSON number or as decimal text; `undefined` when absent. */
export function parseCount(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const number = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 0) {
    throw new LogicalError(400, `invalid ${field} ${JSON.stringify(value)}: expected a non-negative integer`);
  }
  return number;
}

const trueWords = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const falseWords = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/** A boolean given as JSON or as Go's strconv.ParseBool words; `undefined` when absent. */
export function parseFlag(field: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  if (value === 1 || (typeof value === "string" && trueWords.has(value))) return true;
  if (value === 0 || (typeof value === "string" && falseWords.has(value))) return false;
  throw new LogicalError(400, `invalid ${field} ${JSON.stringify(value)}: expected true or false`);
}

const nanosPerUnit: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  "μs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 86400e9,
};
const durationTerm = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/g;
const durationText = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d))+$/;

/**
 * Whole seconds from a number of seconds, decimal text of seconds, or a Go duration ("1h30m",
 * plus "d" for days as Vault's parseutil allows). Empty text is 0; `undefined` when unparseable.
 */
export function durationSeconds(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (text === "") return 0;
  if (/^[-+]?\d+$/.test(text)) return Number(text);
  if (!durationText.test(text)) return undefined;
  let nanos = 0;
  for (const [, amount, unit] of text.matchAll(durationTerm)) {
    nanos += Math.round(Number(amount) * nanosPerUnit[unit!]!);
  }
  return Math.trunc((text.startsWith("-") ? -nanos : nanos) / 1e9);
}

/** Like {@link durationSeconds} but for a request field: absent → `undefined`, garbage → 400. */
export function parseDuration(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const seconds = durationSeconds(value);
  if (seconds === undefined) throw invalidDuration(field, value);
  return seconds;
}

export function invalidDuration(field: string, value: unknown): LogicalError {
  return new LogicalError(400, `invalid ${field} ${JSON.stringify(value)}: expected seconds or a duration such as "1h30m"`);
}

/** Like {@link parseDuration}, for fields that cannot be negative (TTLs). */
export function parseNonNegativeDuration(field: string, value: unknown): number | undefined {
  const seconds = parseDuration(field, value);
  if (seconds !== undefined && seconds < 0) throw new LogicalError(400, `"${field}" cannot be negative`);
  return seconds;
}

/** Seconds as Go's time.Duration prints them: "0s", "45s", "1m30s", "1h0m0s", "-1s". */
export function formatDuration(seconds: number): string {
  const sign = seconds < 0 ? "-" : "";
  let rest = Math.abs(seconds);
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = rest - minutes * 60;
  if (hours > 0) return `${sign}${hours}h${minutes}m${secs}s`;
  if (minutes > 0) return `${sign}${minutes}m${secs}s`;
  return `${sign}${secs}s`;
}

/** RFC 3339 as Go's RFC3339Nano prints it: trailing zeros of the fraction dropped. */
export function formatTime(epochMillis: number): string {
  return new Date(epochMillis).toISOString().replace(/\.?0+Z$/, "Z");
}
