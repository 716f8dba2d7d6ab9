/**
 * Parsing of request fields the way Vault's framework accepts them (JSON values or query-string
 * text), and formatting of durations and times the way Vault (Go) prints them.
 */

import { ExactNumber } from "./encoding.js";
import { LogicalError } from "./types.js";

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof ExactNumber);
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

/**
 * `path` without leading and trailing slashes. A loop rather than `/^\/+|\/+$/g`, which
 * backtracks quadratically over a long run of slashes inside the text.
 */
export function trimSlashes(path: string): string {
  let start = 0;
  while (start < path.length && path[start] === "/") start++;
  return trimTrailingSlashes(path.slice(start));
}

/** `path` without trailing slashes, in linear time (`/\/+$/` is quadratic on "a////…b"). */
export function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(0, end);
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
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 86400e9,
};

/**
 * The longest duration accepted: what Go's time.Duration can hold (about 292 years), so Vault
 * could not have stored more either, and `now + duration` stays a valid Date with room to spare.
 */
export const MAX_DURATION_SECONDS = 9_223_372_036;

/** No real duration is longer than this many characters; refusing longer text bounds the work. */
export const MAX_DURATION_TEXT_LENGTH = 64;

/** The outcome of reading a duration: seconds, or why it was refused. */
type DurationReading = { seconds: number } | { error: "invalid" | "too large" | "too long" };

function readDuration(value: unknown): DurationReading {
  if (value instanceof ExactNumber) value = Number(value.text);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { error: "too large" };
    return withinRange(Math.trunc(value));
  }
  if (typeof value !== "string") return { error: "invalid" };
  const text = value.trim();
  if (text === "") return { seconds: 0 };
  if (text.length > MAX_DURATION_TEXT_LENGTH) return { error: "too long" };
  if (/^[-+]?\d+$/.test(text)) return withinRange(Number(text));
  const nanos = goDurationNanos(text);
  if (nanos === undefined) return { error: "invalid" };
  return withinRange(Math.trunc(nanos / 1e9));
}

function withinRange(seconds: number): DurationReading {
  // `|| 0` turns -0 (from "-0s") into 0.
  return Math.abs(seconds) > MAX_DURATION_SECONDS ? { error: "too large" } : { seconds: seconds || 0 };
}

/**
 * Nanoseconds in a Go duration ("1h30m", ".5s", "-2m", plus "d" for days as Vault's parseutil
 * allows); `undefined` when the text is not one. One pass without regular expressions, so the
 * work is linear in the text's length whatever the text.
 */
export function goDurationNanos(text: string): number | undefined {
  const negative = text.startsWith("-");
  let i = negative || text.startsWith("+") ? 1 : 0;
  if (i === text.length) return undefined;
  const isDigit = (index: number) => text.charCodeAt(index) >= 48 && text.charCodeAt(index) <= 57;
  let nanos = 0;
  while (i < text.length) {
    const amountStart = i;
    while (isDigit(i)) i++;
    let digits = i - amountStart;
    if (text[i] === ".") {
      i++;
      const fractionStart = i;
      while (isDigit(i)) i++;
      digits += i - fractionStart;
    }
    if (digits === 0) return undefined;
    const amount = Number(text.slice(amountStart, i));
    const unitStart = i;
    while (i < text.length && !isDigit(i) && text[i] !== ".") i++;
    const perUnit = nanosPerUnit[text.slice(unitStart, i)];
    if (perUnit === undefined) return undefined;
    nanos += Math.round(amount * perUnit);
  }
  return negative ? -nanos : nanos;
}

/**
 * Milliseconds in decimal seconds ("1.5") or a Go duration ("1500ms", "2s", "1m30s"), as Vault's
 * configuration takes durations; null when neither or longer than any real duration's text.
 */
export function parseDurationMs(text: string): number | null {
  if (text.length > MAX_DURATION_TEXT_LENGTH) return null;
  const nanos = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1e9 : goDurationNanos(text);
  return nanos === undefined ? null : Math.round(nanos / 1e6);
}

/**
 * Whole seconds from a number of seconds, decimal text of seconds, or a Go duration ("1h30m",
 * plus "d" for days as Vault's parseutil allows). Empty text is 0; `undefined` when unparseable
 * or longer than {@link MAX_DURATION_SECONDS}.
 */
export function durationSeconds(value: unknown): number | undefined {
  const reading = readDuration(value);
  return "seconds" in reading ? reading.seconds : undefined;
}

/** Like {@link durationSeconds} but for a request field: absent → `undefined`, garbage or too long → 400. */
export function parseDuration(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const reading = readDuration(value);
  if ("seconds" in reading) return reading.seconds;
  if (reading.error === "too large") {
    throw new LogicalError(400, `invalid ${field}: longer than the maximum duration ${formatDuration(MAX_DURATION_SECONDS)} (${MAX_DURATION_SECONDS} seconds)`);
  }
  if (reading.error === "too long") throw new LogicalError(400, `invalid ${field}: more than ${MAX_DURATION_TEXT_LENGTH} characters`);
  throw invalidDuration(field, value);
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
