import { parseDurationMs } from "../sdk/fields.js";
import { ConfigError } from "./types.js";
import { describe } from "./values.js";

/**
 * A duration setting as Vault writes them: a bare number is seconds, a string is Go-style
 * ("500ms", "5s", "1m30s"); 0 is allowed (it turns the feature off). Returns milliseconds.
 */
export function requireDurationMs(value: unknown, at: string): number {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : "";
  const ms = parseDurationMs(text);
  if (ms === null || !Number.isFinite(ms) || ms < 0) {
    throw new ConfigError(`${at} must be a duration such as "500ms", "5s" or "1m", or 0 for off; got ${describe(value)}`);
  }
  return Math.abs(ms); // "-0s" reads as -0
}
