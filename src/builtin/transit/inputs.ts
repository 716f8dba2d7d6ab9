/** Request fields as transit reads them: strings, base64 as Go decodes it, versions, batches. */
import { pooledBytes } from "../../sdk/byte-pool.js";
import { ExactNumber, installedRuntimeBase64 } from "../../sdk/encoding.js";
import { isPlainObject, parseCount } from "../../sdk/fields.js";
import { LogicalError } from "../../sdk/types.js";

/** Vault's names are `\w(([\w-.]+)?\w)?`; anything else has no route. */
export const KEY_NAME = /^\w(?:[\w.-]*\w)?$/;

/** A string field as Vault's framework reads one (numbers and booleans as their text); "" when absent. */
export function text(data: Record<string, unknown>, field: string, fallback = ""): string {
  const value = data[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || value instanceof ExactNumber) return String(value instanceof ExactNumber ? value.text : value);
  throw new LogicalError(400, `invalid ${field}: expected a string`);
}

export function has(data: Record<string, unknown>, field: string): boolean {
  return data[field] !== undefined && data[field] !== null;
}

/** An integer field that may be negative (Vault answers a negative version with its own text); 0 when absent. */
export function integer(data: Record<string, unknown>, field: string): number {
  const value = data[field];
  if (value === undefined || value === null || value === "") return 0;
  if (typeof value === "string" && /^\s*-\d+\s*$/.test(value)) return Number(value);
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  return parseCount(field, value) ?? 0;
}

const NO_BYTES = new Uint8Array(0);
const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Standard base64, padded, as Go's base64.StdEncoding decodes it; a failure is Go's text
 * ("illegal base64 data at input byte N"), which Vault returns to the client.
 */
export function decodeBase64(value: string): Uint8Array | string {
  // Most often an absent context: one shared array, as nothing can be written to an empty one.
  if (value === "") return NO_BYTES;
  if (value.length % 4 !== 0) return `illegal base64 data at input byte ${firstBadByte(value)}`;
  return decodeNatively(value) ?? (value.length <= SCRATCH_BYTES ? decodeDigits(value) : null) ?? decodeWithAtob(value);
}

/**
 * The runtime's decoder, where it has one, for text Go would accept: it skips what is not base64
 * (whitespace, a misplaced "=") and so decodes fewer bytes than the text's length promises, and
 * reads the URL alphabet too, which is looked for first. Null otherwise.
 */
function decodeNatively(value: string): Uint8Array | null {
  const native = installedRuntimeBase64();
  if (!native || value.includes("-") || value.includes("_")) return null;
  const padding = value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0;
  const decoded = native.decode(value);
  return decoded.length === (value.length / 4) * 3 - padding ? decoded : null;
}

/**
 * The bytes of padded base64 whose length is a multiple of four, digit by digit from a table; null
 * at anything outside the alphabet, left for decodeWithAtob to name. Unlike atob, it leaves no
 * binary string behind for the collector.
 */
function decodeDigits(value: string): Uint8Array | null {
  const length = value.length;
  const { read, written } = asciiEncoder.encodeInto(value, scratch);
  if (read !== length || written !== length) return null;
  const padding = length === 0 || scratch[length - 1] !== PADDING ? 0 : scratch[length - 2] === PADDING ? 2 : 1;
  const whole = padding > 0 ? length - 4 : length;
  const out = pooledBytes((length / 4) * 3 - padding);
  // A character outside the alphabet is -1, and makes its group, hence `invalid`, negative.
  let invalid = 0;
  let at = 0;
  for (let i = 0; i < whole; i += 4) {
    const group =
      (DIGIT_VALUES[scratch[i]!]! << 18) | (DIGIT_VALUES[scratch[i + 1]!]! << 12) | (DIGIT_VALUES[scratch[i + 2]!]! << 6) | DIGIT_VALUES[scratch[i + 3]!]!;
    invalid |= group;
    out[at] = group >> 16;
    out[at + 1] = group >> 8;
    out[at + 2] = group;
    at += 3;
  }
  if (padding > 0) {
    const third = padding === 1 ? DIGIT_VALUES[scratch[whole + 2]!]! << 6 : 0;
    const group = (DIGIT_VALUES[scratch[whole]!]! << 18) | (DIGIT_VALUES[scratch[whole + 1]!]! << 12) | third;
    invalid |= group;
    out[at] = group >> 16;
    if (padding === 1) out[at + 1] = group >> 8;
  }
  return invalid < 0 ? null : out;
}

/** decodeBase64 for long texts, and Go's error for bad ones. */
function decodeWithAtob(value: string): Uint8Array | string {
  let binary: string;
  try {
    binary = atob(value);
  } catch {
    return `illegal base64 data at input byte ${STANDARD_BASE64.test(value) ? value.length : firstBadByte(value)}`;
  }
  // atob skips ASCII whitespace, which Go refuses; skipped, it leaves fewer bytes than the digits make.
  const padding = value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0;
  if (binary.length !== (value.length / 4) * 3 - padding) return `illegal base64 data at input byte ${firstBadByte(value)}`;
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Where Go's decoder stops: the first character outside the alphabet, or the end of a short input. */
function firstBadByte(value: string): number {
  const padding = /={1,2}$/.exec(value)?.[0].length ?? 0;
  const body = value.length - padding;
  for (let i = 0; i < body; i++) {
    if (!/[A-Za-z0-9+/]/.test(value[i]!)) return i;
  }
  return body;
}

const BASE64_DIGITS = new TextEncoder().encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
/** The two base64 digits of every 12-bit value, laid out as bytes so a Uint16Array copy keeps their order on any platform. */
const BASE64_DIGIT_PAIRS = new Uint16Array(Uint8Array.from({ length: 8192 }, (_, i) => BASE64_DIGITS[i % 2 === 0 ? (i >> 1) >> 6 : (i >> 1) & 63]!).buffer);
/** Each character's digit value, -1 outside the alphabet. */
const DIGIT_VALUES = new Int32Array(256).fill(-1);
for (const [value, digit] of BASE64_DIGITS.entries()) DIGIT_VALUES[digit] = value;
const PADDING = 0x3d;
const asciiEncoder = new TextEncoder();
const asciiDecoder = new TextDecoder();
/**
 * Texts up to this long are encoded and decoded through one reused array: making a fresh one cost
 * more than the coding. Both run start to end without yielding, so they never share it.
 */
const SCRATCH_BYTES = 64 * 1024;
const scratch = new Uint8Array(SCRATCH_BYTES);
const scratchPairs = new Uint16Array(scratch.buffer);

/**
 * Standard padded base64 after an ASCII `prefix` (Vault's "vault:v1:"), by the runtime's encoder
 * where it has one. Otherwise the digits are written as bytes, two at a time from a table, and made
 * a string once: several times cheaper than btoa over a binary string or one built digit by digit.
 */
export function encodeBase64(bytes: Uint8Array, prefix = ""): string {
  const native = installedRuntimeBase64();
  if (native) return prefix + native.encode(bytes);
  // The digits start at an even offset, where the two-byte writes line up; the prefix ends there.
  const start = prefix.length + (prefix.length & 1);
  const length = start + Math.ceil(bytes.length / 3) * 4;
  const out = length <= SCRATCH_BYTES ? scratch : new Uint8Array(length);
  const pairs = out === scratch ? scratchPairs : new Uint16Array(out.buffer);
  if (prefix !== "") asciiEncoder.encodeInto(prefix, out.subarray(start - prefix.length, start));
  let pair = start / 2;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const group = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    pairs[pair++] = BASE64_DIGIT_PAIRS[group >> 12]!;
    pairs[pair++] = BASE64_DIGIT_PAIRS[group & 4095]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const group = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    const at = pair * 2;
    out[at] = BASE64_DIGITS[group >> 18]!;
    out[at + 1] = BASE64_DIGITS[(group >> 12) & 63]!;
    out[at + 2] = rest === 2 ? BASE64_DIGITS[(group >> 6) & 63]! : PADDING;
    out[at + 3] = PADDING;
  }
  return asciiDecoder.decode(out.subarray(start - prefix.length, length));
}

/** `decodeBase64` that answers 400 with `prefix` before Go's text (or `message` instead of it). */
export function base64Field(value: string, prefix: string, message?: string): Uint8Array {
  const decoded = decodeBase64(value);
  if (typeof decoded === "string") throw new LogicalError(400, message ?? `${prefix}${decoded}`);
  return decoded;
}

/** Base64 without padding, URL alphabet (JWS signatures). */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(value: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(value) || value.length % 4 === 1) return null;
  const padded = value.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (value.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** `batch_input` as a list of objects, or null when the request has none. */
export function batchInput(data: Record<string, unknown>): Record<string, unknown>[] | null {
  const raw = data.batch_input;
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) throw new LogicalError(400, "failed to parse batch input: expected a list of objects");
  raw.forEach((item, index) => {
    if (!isPlainObject(item)) throw new LogicalError(400, `failed to parse batch input: item ${index} is not an object`);
  });
  if (raw.length === 0) throw new LogicalError(400, "missing batch input to process");
  return raw as Record<string, unknown>[];
}

/** `vault:v<N>:<payload>`, as Vault splits it; `what` names the value in the errors ("ciphertext", "signature"). */
export function splitVersioned(value: string, what: string): { version: number; payload: string } {
  if (!value.startsWith("vault:v")) throw new LogicalError(400, `invalid ${what}: no prefix`);
  const rest = value.slice("vault:v".length);
  const colon = rest.indexOf(":");
  if (colon < 0) throw new LogicalError(400, `invalid ${what}: wrong number of fields`);
  const digits = rest.slice(0, colon);
  if (!/^[+-]?\d{1,15}$/.test(digits)) throw new LogicalError(400, `invalid ${what}: version number could not be decoded`);
  return { version: Number(digits), payload: rest.slice(colon + 1) };
}
