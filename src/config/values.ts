import { ConfigError } from "./types.js";

export type Env = Record<string, string | undefined>;

export type Json = Record<string, unknown>;

export interface Block {
  type: string;
  body: Json;
}

/** A value together with the file that set it, so later errors can name that file. */
export interface FromFile<T> {
  value: T;
  file: string;
}

export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

export function requireString(value: unknown, at: string): string {
  if (typeof value !== "string") throw new ConfigError(`${at} must be a string, got ${describe(value)}`);
  return value;
}

// The spellings Go's strconv.ParseBool accepts, which is what Vault uses, plus JSON numbers 1 and 0.
const TRUE_WORDS = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "false", "FALSE", "False"]);

export function requireBool(value: unknown, at: string): boolean {
  if (typeof value === "boolean") return value;
  const word = typeof value === "number" || typeof value === "string" ? String(value) : undefined;
  if (word !== undefined && TRUE_WORDS.has(word)) return true;
  if (word !== undefined && FALSE_WORDS.has(word)) return false;
  throw new ConfigError(`${at} must be true or false, got ${describe(value)}`);
}

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function quote(text: string): string {
  return JSON.stringify(text);
}

export function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
