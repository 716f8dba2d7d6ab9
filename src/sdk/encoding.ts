/** Small byte/JSON helpers shared by the logical layer (Web APIs only). */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(stringifyJson(value));
}

/** Stored JSON, numbers kept exact. Its depth was bounded when it was written, so none is imposed here. */
export function decodeJson<T>(bytes: Uint8Array): T {
  return parseJson(decoder.decode(bytes), Infinity) as T;
}

/**
 * A decoding of stored bytes done once per bytes object, for bytes from `getShared` (never modified,
 * the same object while the stored value is unchanged): a hot entry is decoded when it changes, not
 * at every read. Results are deeply frozen, since every reader shares them; a reader that means to
 * change one (a write) decodes its own copy.
 */
export class SharedDecoding<T> {
  readonly #decoded = new WeakMap<Uint8Array, T>();

  constructor(private readonly decodeBytes: (bytes: Uint8Array) => T) {}

  decode(bytes: Uint8Array): T {
    let value = this.#decoded.get(bytes);
    if (value === undefined) {
      value = deepFreeze(this.decodeBytes(bytes));
      this.#decoded.set(bytes, value);
    }
    return value;
  }
}

/** Shared decodings of stored JSON (KV v2 metadata and versions). */
export const sharedJson = new SharedDecoding<unknown>(decodeJson);

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * How deeply request JSON (bodies, JSON policies) may nest. Real secrets and policies are a
 * handful of levels deep; the bound keeps every recursive walk over the value (serialising,
 * merge patches) far from the stack limit.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * A JSON number that a double would change: more significant digits than a double holds
 * (12345678901234567890), or out of its range (1e400). Kept as written, as Vault keeps
 * json.Number, and written back unchanged by {@link stringifyJson}.
 */
export class ExactNumber {
  constructor(readonly text: string) {}

  /** Inside {@link stringifyJson}, a placeholder for the text; elsewhere (error messages) the text as a string. */
  toJSON(): string {
    if (!exactNumberSink) return this.text;
    exactNumberSink.nonce ||= randomBase62(24);
    return `${exactNumberSink.nonce}${exactNumberSink.texts.push(this.text) - 1}`;
  }
}

/** Collects the texts of the exact numbers met by the JSON.stringify call under way. */
let exactNumberSink: { nonce: string; texts: string[] } | null = null;

/** JSON.stringify that writes {@link ExactNumber}s as their original text. */
export function stringifyJson(value: unknown): string {
  const outer = exactNumberSink;
  const sink = { nonce: "", texts: [] as string[] };
  exactNumberSink = sink;
  let json: string;
  try {
    json = JSON.stringify(value);
  } finally {
    exactNumberSink = outer;
  }
  if (sink.texts.length === 0) return json;
  // The nonce is random per call, so no string the client wrote can be mistaken for a placeholder.
  return json.replace(new RegExp(`"${sink.nonce}(\\d+)"`, "g"), (_, index: string) => sink.texts[Number(index)]!);
}

export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
}

/**
 * JSON.parse with two differences: numbers a double would change become {@link ExactNumber}s,
 * and nesting deeper than `maxDepth` is refused. "__proto__" keys stay ordinary properties.
 */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  // Nearly all JSON has neither: the native parser is several times faster than ours.
  return parseScannedJson(text, !mayHoldInexactNumber(text) && (maxDepth === Infinity || nestingDepth(text) <= maxDepth), maxDepth);
}

/**
 * {@link parseJson} for text whose scan the caller has done: `plain` when no number in it may be
 * inexact and it nests at most `maxDepth` deep.
 */
export function parseScannedJson(text: string, plain: boolean, maxDepth = MAX_JSON_DEPTH): unknown {
  if (plain) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new JsonSyntaxError((error as Error).message);
    }
  }
  const parser = new JsonParser(text, maxDepth);
  const value = parser.value(0);
  parser.end();
  return value;
}

class JsonParser {
  #i = 0;
  constructor(
    readonly text: string,
    readonly maxDepth: number,
  ) {}

  value(depth: number): unknown {
    this.#skipSpace();
    const char = this.text[this.#i];
    switch (char) {
      case "{":
        return this.#object(depth + 1);
      case "[":
        return this.#array(depth + 1);
      case '"':
        return this.#string();
      case "t":
        return this.#literal("true", true);
      case "f":
        return this.#literal("false", false);
      case "n":
        return this.#literal("null", null);
      default:
        if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) return this.#number();
        throw this.#unexpected();
    }
  }

  end(): void {
    this.#skipSpace();
    if (this.#i < this.text.length) throw this.#unexpected();
  }

  #object(depth: number): Record<string, unknown> {
    this.#checkDepth(depth);
    this.#i++;
    const object: Record<string, unknown> = {};
    this.#skipSpace();
    if (this.text[this.#i] === "}") {
      this.#i++;
      return object;
    }
    for (;;) {
      this.#skipSpace();
      if (this.text[this.#i] !== '"') throw this.#unexpected("a string key");
      const key = this.#string();
      this.#skipSpace();
      this.#expect(":");
      const value = this.value(depth);
      // Plain assignment to "__proto__" would replace the prototype instead of adding a key.
      if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
      else object[key] = value;
      this.#skipSpace();
      if (this.text[this.#i] === "}") {
        this.#i++;
        return object;
      }
      this.#expect(",");
    }
  }

  #array(depth: number): unknown[] {
    this.#checkDepth(depth);
    this.#i++;
    const array: unknown[] = [];
    this.#skipSpace();
    if (this.text[this.#i] === "]") {
      this.#i++;
      return array;
    }
    for (;;) {
      array.push(this.value(depth));
      this.#skipSpace();
      if (this.text[this.#i] === "]") {
        this.#i++;
        return array;
      }
      this.#expect(",");
    }
  }

  #string(): string {
    const start = this.#i;
    let plain = true;
    for (let i = start + 1; i < this.text.length; i++) {
      const code = this.text.charCodeAt(i);
      if (code === 0x22 /* " */) {
        this.#i = i + 1;
        if (plain) return this.text.slice(start + 1, i);
        // Escapes and their errors exactly as JSON.parse decodes them.
        try {
          return JSON.parse(this.text.slice(start, i + 1)) as string;
        } catch {
          throw new JsonSyntaxError(`invalid string at position ${start}`);
        }
      }
      if (code === 0x5c /* \ */) {
        plain = false;
        i++;
      } else if (code < 0x20) {
        throw new JsonSyntaxError(`control character in string at position ${i}`);
      }
    }
    throw new JsonSyntaxError(`unterminated string at position ${start}`);
  }

  #number(): number | ExactNumber {
    const start = this.#i;
    if (this.text[this.#i] === "-") this.#i++;
    if (this.text[this.#i] === "0") this.#i++;
    else if (!this.#digits()) throw this.#unexpected("a digit");
    if (this.text[this.#i] === ".") {
      this.#i++;
      if (!this.#digits()) throw this.#unexpected("a digit");
    }
    if (this.text[this.#i] === "e" || this.text[this.#i] === "E") {
      this.#i++;
      if (this.text[this.#i] === "+" || this.text[this.#i] === "-") this.#i++;
      if (!this.#digits()) throw this.#unexpected("a digit");
    }
    const text = this.text.slice(start, this.#i);
    const number = Number(text);
    return survivesDouble(text, number) ? number : new ExactNumber(text);
  }

  #digits(): boolean {
    const start = this.#i;
    while (this.#i < this.text.length && this.text.charCodeAt(this.#i) >= 48 && this.text.charCodeAt(this.#i) <= 57) this.#i++;
    return this.#i > start;
  }

  #literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.#i)) throw this.#unexpected();
    this.#i += word.length;
    return value;
  }

  #skipSpace(): void {
    for (;;) {
      const code = this.text.charCodeAt(this.#i);
      if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) return;
      this.#i++;
    }
  }

  #expect(char: string): void {
    if (this.text[this.#i] !== char) throw this.#unexpected(`"${char}"`);
    this.#i++;
  }

  #checkDepth(depth: number): void {
    if (depth > this.maxDepth) throw new JsonSyntaxError(`nested deeper than ${this.maxDepth} levels at position ${this.#i}`);
  }

  #unexpected(expected?: string): JsonSyntaxError {
    const found = this.#i < this.text.length ? JSON.stringify(this.text[this.#i]) : "end of input";
    return new JsonSyntaxError(`unexpected ${found} at position ${this.#i}${expected ? `, expected ${expected}` : ""}`);
  }
}

/**
 * False only when every number in `text` has at most 15 digits and a two-digit exponent: such a
 * number always survives a double. Strings are skipped: hex ids and UUIDs in stored entries
 * ("…e123…") would otherwise send most entries to the slow parser. Malformed text may answer
 * either way; JSON.parse or the exact parser then rejects it.
 */
export function mayHoldInexactNumber(text: string): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code >= 0x30 && code <= 0x39) || code === 0x2e /* . */) {
      if (++run >= 16) return true;
      continue;
    }
    run = 0;
    if (code === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const inner = text.charCodeAt(i);
        if (inner === 0x5c /* \ */) i++;
        else if (inner === 0x22) break;
      }
    } else if (code === 0x65 /* e */ || code === 0x45 /* E */) {
      let digits = i + 1;
      if (text.charCodeAt(digits) === 0x2b /* + */ || text.charCodeAt(digits) === 0x2d /* - */) digits++;
      if (isDigit(text.charCodeAt(digits)) && isDigit(text.charCodeAt(digits + 1)) && isDigit(text.charCodeAt(digits + 2))) return true;
    }
  }
  return false;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** The deepest nesting of arrays and objects in `text`, brackets inside strings not counted. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c /* \ */) i++;
      else if (code === 0x22 /* " */) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x7b /* { */ || code === 0x5b /* [ */) {
      deepest = Math.max(deepest, ++depth);
    } else if (code === 0x7d /* } */ || code === 0x5d /* ] */) {
      depth--;
    }
  }
  return deepest;
}

/** Whether writing `number` back gives the same decimal value as `text` (the digits may be spelled differently). */
function survivesDouble(text: string, number: number): boolean {
  if (!Number.isFinite(number)) return false;
  // Up to 15 digits, any integer is exact.
  if (text.length <= 15 && !text.includes(".") && !text.includes("e") && !text.includes("E")) return true;
  const written = decimalValue(String(number));
  const read = decimalValue(text);
  return written.digits === read.digits && written.exponent === read.exponent && written.negative === read.negative;
}

/** A decimal as sign, significant digits without leading or trailing zeros, and power of ten. */
function decimalValue(text: string): { negative: boolean; digits: string; exponent: number } {
  const negative = text.startsWith("-");
  const unsigned = negative ? text.slice(1) : text;
  const e = unsigned.search(/[eE]/);
  const mantissa = e === -1 ? unsigned : unsigned.slice(0, e);
  const dot = mantissa.indexOf(".");
  const whole = dot === -1 ? mantissa : mantissa.slice(0, dot);
  const fraction = dot === -1 ? "" : mantissa.slice(dot + 1);
  let digits = whole + fraction;
  let exponent = (e === -1 ? 0 : Number(unsigned.slice(e + 1))) - fraction.length;
  let first = 0;
  while (first < digits.length && digits[first] === "0") first++;
  let last = digits.length;
  while (last > first && digits[last - 1] === "0") last--;
  exponent += digits.length - last;
  digits = digits.slice(first, last);
  return digits === "" ? { negative: false, digits, exponent: 0 } : { negative, digits, exponent };
}

/** The bytes of hex text of even length (checked by the caller, or made by {@link toHex}). */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The runtime's own base64, where it has one faster than JavaScript (Node's Buffer is native code:
 * on a kilobyte it takes a quarter of the time of the code here). Installed by the runtime's
 * adapter. `decode` may be as lenient as Buffer's: its callers check what comes out.
 */
export interface RuntimeBase64 {
  encode(bytes: Uint8Array): string;
  decode(text: string): Uint8Array;
}

let runtimeBase64: RuntimeBase64 | null = null;

/** Installed once by a runtime adapter at start-up (tests install and remove it). */
export function installRuntimeBase64(codec: RuntimeBase64 | null): void {
  runtimeBase64 = codec;
}

export function installedRuntimeBase64(): RuntimeBase64 | null {
  return runtimeBase64;
}

export function toBase64(bytes: Uint8Array): string {
  if (runtimeBase64) return runtimeBase64.encode(bytes);
  let binary = "";
  // Chunks keep String.fromCharCode's argument list short for megabyte values.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Standard base64 to bytes; throws (a DOMException) when `text` is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Decodes hex or standard base64 (how Vault accepts unseal keys); null when it is neither. */
export function decodeKey(text: string): Uint8Array | null {
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return fromHex(text);
  try {
    return fromBase64(text);
  } catch {
    return null;
  }
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Uniformly random base62 string (rejection sampling keeps it unbiased). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export function randomUuid(): string {
  return crypto.randomUUID();
}

/** RFC 3339 with nanosecond precision, as Vault prints times. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}
