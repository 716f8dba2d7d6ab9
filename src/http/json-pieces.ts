/**
 * JSON.parse of a large request body without making the body one string: V8 gives a string over
 * 128 KB pages of its own, mapped afresh for each one, and their page faults cost more than the
 * parse (about 1 ms for a 140 KB transit batch on a loaded two-core machine). Objects and arrays
 * larger than a piece are split into their members and elements, runs of small ones are parsed
 * together with one JSON.parse each, and only a single value larger than a piece (a long string)
 * is still decoded whole.
 */

/** Bytes parsed with one JSON.parse: even as a two-byte string, well under V8's 128 KB threshold. */
export const PIECE_BYTES = 48 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

const decoder = new TextDecoder();

/** Thrown where the bytes are not JSON: the caller parses the whole text instead, for the parser's own error. */
class NotSplittable extends Error {}

/**
 * The value of the JSON in `bytes`, as JSON.parse would give it (the caller has refused numbers a
 * double would change and deep nesting); null when the bytes are not JSON, or not JSON this
 * splits: the caller then parses the whole text, which also gives the parser's error message.
 */
export function parseJsonInPieces(bytes: Uint8Array): { value: unknown } | null {
  try {
    const [start, end] = trimmed(bytes, 0, bytes.length);
    return { value: valueOf(bytes, start, end) };
  } catch (error) {
    if (error instanceof NotSplittable || error instanceof SyntaxError) return null;
    throw error;
  }
}

function valueOf(bytes: Uint8Array, start: number, end: number): unknown {
  if (end - start > PIECE_BYTES) {
    const open = bytes[start];
    if (open === 0x5b /* [ */ && bytes[end - 1] === 0x5d /* ] */) return arrayOf(bytes, start + 1, end - 1);
    if (open === 0x7b /* { */ && bytes[end - 1] === 0x7d /* } */) return objectOf(bytes, start + 1, end - 1);
  }
  return JSON.parse(decoder.decode(bytes.subarray(start, end)));
}

function arrayOf(bytes: Uint8Array, from: number, to: number): unknown[] {
  const array: unknown[] = [];
  runs(bytes, from, to, false, {
    run: (text) => {
      for (const element of JSON.parse(text) as unknown[]) array.push(element);
    },
    large: (start, end) => array.push(valueOf(bytes, start, end)),
  });
  return array;
}

function objectOf(bytes: Uint8Array, from: number, to: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  // Later duplicates win and keep the first one's place, as in JSON.parse.
  const set = (key: string, value: unknown) => {
    // Plain assignment to "__proto__" would replace the prototype; JSON.parse makes it an own property.
    if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
    else object[key] = value;
  };
  runs(bytes, from, to, true, {
    run: (text) => {
      const members = JSON.parse(text) as Record<string, unknown>;
      for (const key of Object.keys(members)) set(key, members[key]);
    },
    large: (start, end, colon) => {
      const key = JSON.parse(decoder.decode(bytes.subarray(...trimmed(bytes, start, colon))));
      if (typeof key !== "string") throw new NotSplittable();
      set(key, valueOf(bytes, ...trimmed(bytes, colon + 1, end)));
    },
  });
  return object;
}

/**
 * Walks the members (`members`) or elements between a container's brackets: consecutive ones that
 * fit in a piece together go to `run` as their text within the container's brackets, a larger one
 * to `large` with its span (and a member's colon).
 */
function runs(
  bytes: Uint8Array,
  from: number,
  to: number,
  members: boolean,
  take: { run(text: string): void; large(start: number, end: number, colon: number): void },
): void {
  let runStart = -1;
  let runEnd = -1;
  const flush = () => {
    if (runStart >= 0) take.run(bracketed(bytes, runStart, runEnd, members));
    runStart = -1;
  };
  const [first, last] = trimmed(bytes, from, to);
  if (first === last) return;
  for (let position = first; position <= last; ) {
    const { end, colon } = child(bytes, position, last, members);
    const [start, childEnd] = trimmed(bytes, position, end);
    if (start === childEnd) throw new NotSplittable();
    if (childEnd - start > PIECE_BYTES) {
      flush();
      take.large(start, childEnd, colon);
    } else if (runStart >= 0 && childEnd - runStart <= PIECE_BYTES) {
      runEnd = childEnd;
    } else {
      flush();
      runStart = start;
      runEnd = childEnd;
    }
    position = end + 1; // past the comma
    if (end === last) break;
  }
  flush();
}

/** Room for a run of members or elements and the brackets around them. */
const runBytes = new Uint8Array(PIECE_BYTES + 2);

/**
 * The text of bytes [start, end) within braces (`members`) or square brackets, decoded at once:
 * adding the brackets to the decoded text instead made V8 copy every run a second time.
 */
function bracketed(bytes: Uint8Array, start: number, end: number, members: boolean): string {
  const length = end - start;
  runBytes[0] = members ? 0x7b /* { */ : 0x5b; /* [ */
  runBytes.set(bytes.subarray(start, end), 1);
  runBytes[length + 1] = members ? 0x7d /* } */ : 0x5d; /* ] */
  return decoder.decode(runBytes.subarray(0, length + 2));
}

/** Where the member or element starting at `position` ends (its comma, or `last`), and a member's colon. */
function child(bytes: Uint8Array, position: number, last: number, members: boolean): { end: number; colon: number } {
  let depth = 0;
  let colon = -1;
  for (let i = position; i < last; i++) {
    const code = bytes[i]!;
    if (code === QUOTE) {
      i = closingQuote(bytes, i, last);
    } else if (code === 0x7b || code === 0x5b) {
      depth++;
    } else if (code === 0x7d || code === 0x5d) {
      if (--depth < 0) throw new NotSplittable();
    } else if (depth === 0 && code === COMMA) {
      return { end: i, colon: requireColon(colon, members) };
    } else if (depth === 0 && code === COLON && colon < 0) {
      colon = i;
    }
  }
  if (depth !== 0) throw new NotSplittable();
  return { end: last, colon: requireColon(colon, members) };
}

function requireColon(colon: number, members: boolean): number {
  if (members && colon < 0) throw new NotSplittable();
  return colon;
}

/** The closing quote of the string opening at `open`, found with indexOf: strings are most of a large body. */
function closingQuote(bytes: Uint8Array, open: number, last: number): number {
  for (let from = open + 1; ; ) {
    const quote = bytes.indexOf(QUOTE, from);
    if (quote < 0 || quote >= last) throw new NotSplittable();
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

/** [start, end) without JSON's whitespace at either side. */
function trimmed(bytes: Uint8Array, start: number, end: number): [number, number] {
  while (start < end && isSpace(bytes[start]!)) start++;
  while (end > start && isSpace(bytes[end - 1]!)) end--;
  return [start, end];
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
