import { ConfigError } from "./types.js";
import { describe } from "./values.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration setting as Vault writes them: a bare number is seconds, a string is Go-style
 * ("500ms", "5s", "1m30s"); 0 is allowed (it turns the feature off). Returns milliseconds.
 */
export function requireDurationMs(value: unknown, at: string): number {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : "";
  let ms: number | null = null;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join("") === text) {
      ms = parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * UNIT_MS[unit!]!, 0);
    }
  }
  if (ms === null || !Number.isFinite(ms)) {
    throw new ConfigError(`${at} must be a duration such as "500ms", "5s" or "1m", or 0 for off; got ${describe(value)}`);
  }
  return Math.round(ms);
}
