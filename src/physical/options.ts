import { ConfigError } from "../config/types.js";
import { parseDurationMs } from "../sdk/fields.js";

/**
 * A `storage` stanza's options with the environment applied. As in Vault, a non-empty environment
 * variable wins over the option it stands for. Errors name the stanza, the key and what is allowed.
 */
export class StorageOptions {
  constructor(
    readonly type: string,
    private readonly options: Record<string, string>,
    private readonly env: Record<string, string | undefined>,
  ) {}

  string(key: string, envNames: string[] = []): string | undefined {
    return this.#lookup(key, envNames)?.text;
  }

  required(key: string, envNames: string[] = []): string {
    const text = this.string(key, envNames);
    if (text === undefined) {
      throw this.error(`${key} is required${envNames.length ? ` (or set ${envNames.join(" or ")})` : ""}`);
    }
    return text;
  }

  positiveInt(key: string, fallback: number, envNames: string[] = []): number {
    const found = this.#lookup(key, envNames);
    if (!found) return fallback;
    if (!/^\d+$/.test(found.text) || Number(found.text) < 1 || !Number.isSafeInteger(Number(found.text))) {
      throw this.error(`${found.source} = "${found.text}" is not allowed: use a positive integer`);
    }
    return Number(found.text);
  }

  bool(key: string, fallback: boolean, envNames: string[] = []): boolean {
    const found = this.#lookup(key, envNames);
    if (!found) return fallback;
    if (/^(1|t|true)$/i.test(found.text)) return true;
    if (/^(0|f|false)$/i.test(found.text)) return false;
    throw this.error(`${found.source} = "${found.text}" is not allowed: use "true" or "false"`);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T, envNames: string[] = []): T {
    const found = this.#lookup(key, envNames);
    if (!found) return fallback;
    const match = allowed.find((choice) => choice.toLowerCase() === found.text.toLowerCase());
    if (!match) {
      throw this.error(`${found.source} = "${found.text}" is not allowed: use one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
    }
    return match;
  }

  /** Milliseconds from "1500ms", "1.5s", "2m", "1m30s"; a bare number is seconds, as in Vault. */
  durationMs(key: string, fallbackMs: number): number {
    const found = this.#lookup(key, []);
    if (!found) return fallbackMs;
    const ms = parseDurationMs(found.text);
    if (ms === null || ms <= 0) {
      throw this.error(`${found.source} = "${found.text}" is not allowed: use a positive duration such as "1500ms", "2s" or "1m"`);
    }
    return ms;
  }

  error(message: string): ConfigError {
    return new ConfigError(`storage "${this.type}": ${message}`);
  }

  #lookup(key: string, envNames: string[]): { text: string; source: string } | undefined {
    for (const name of envNames) {
      const text = this.env[name]?.trim();
      if (text) return { text, source: `${name} (for ${key})` };
    }
    const text = this.options[key]?.trim();
    return text ? { text, source: key } : undefined;
  }
}
