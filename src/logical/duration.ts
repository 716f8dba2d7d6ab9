/** Vault-style durations: integer seconds (number or digit string) or Go-style "1h30m", "45s", "500ms". */

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };

/** Parses a duration into whole seconds; throws `RangeError` naming `field` when it cannot. */
export function parseDurationSeconds(value: unknown, field: string): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value === "string") {
    const text = value.trim();
    if (/^\d+$/.test(text)) return Number(text);
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join("") === text) {
      return Math.floor(parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit!]!, 0));
    }
  }
  throw new RangeError(`${field}: invalid duration ${JSON.stringify(value)} (use seconds or a duration like "1h30m")`);
}
