export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

const LEVELS: LogLevel[] = ["trace", "debug", "info", "warn", "error"];

export interface Logger {
  trace(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  named(name: string): Logger;
}

/**
 * Vault-style log lines: `2026-11-24T20:00:00.000Z [INFO]  core: vault is unsealed: key=value`.
 * Callers must never pass secrets (tokens, keys) in messages or fields.
 */
export function createLogger(level: LogLevel, write: (line: string) => void, name = ""): Logger {
  const threshold = LEVELS.indexOf(level);
  const emit = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(at) < threshold) return;
    const tag = `[${at.toUpperCase()}]`.padEnd(7);
    const extra = fields
      ? Object.entries(fields)
          .map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join("")
      : "";
    write(`${new Date().toISOString()} ${tag} ${name ? `${name}: ` : ""}${message}${extra && ":"}${extra}`);
  };
  return {
    trace: (m, f) => emit("trace", m, f),
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    named: (child) => createLogger(level, write, name ? `${name}.${child}` : child),
  };
}

export const silentLogger: Logger = createLogger("error", () => {});
