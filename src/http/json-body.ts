import { stringifyJson } from "../sdk/encoding.js";
import { isPlainObject } from "../sdk/fields.js";

/** An array in a response's `data` with at least this many elements is serialised in runs of elements. */
const PIECEWISE_ARRAY_LENGTH = 16;
/** Characters of JSON serialised in one call for a long array's elements, and its most elements per call. */
const RUN_CHARS = 32 * 1024;
const RUN_ELEMENTS_MAX = 1024;
/** Pieces adding up to this many characters are sent as one string; past it, as bytes. */
const STRING_BODY_LIMIT = 64 * 1024;

const encoder = new TextEncoder();

/**
 * A response's JSON text (the same as JSON.stringify's), as one string unless `data` holds a long
 * array: a LIST's keys, a transit batch's results. Then its elements are serialised a run at a
 * time and a large text is encoded piece by piece into one byte array. V8 gives a string over
 * 128 KB pages of its own, mapped afresh for each one: their page faults cost more than the
 * serialising (about 1 ms for a 150 KB batch answer on a loaded two-core machine), and the HTTP
 * layer would then copy such a string once or twice more.
 */
export function jsonBody(body: unknown): string | Uint8Array<ArrayBuffer> {
  const data = isPlainObject(body) ? body.data : undefined;
  if (!isPlainObject(data) || !Object.values(data).some((value) => Array.isArray(value) && value.length >= PIECEWISE_ARRAY_LENGTH)) {
    return stringifyJson(body);
  }
  const pieces: string[] = [];
  // The body and `data` member by member; `data`'s long arrays element by element.
  appendJson(body, 2, pieces);
  let length = 0;
  for (const piece of pieces) length += piece.length;
  return length < STRING_BODY_LIMIT ? pieces.join("") : encodePieces(pieces, length);
}

/**
 * Appends the JSON of `value`: an object member by member while `depth` > 0, a long array in runs
 * of elements while `depth` ≥ 0, anything else in one stringifyJson call. False where
 * JSON.stringify leaves the value out (undefined, a function), as it does.
 */
function appendJson(value: unknown, depth: number, pieces: string[]): boolean {
  if (depth >= 0 && Array.isArray(value) && value.length >= PIECEWISE_ARRAY_LENGTH) {
    appendElements(value, pieces);
    return true;
  }
  if (depth > 0 && isPlainObject(value) && typeof value.toJSON !== "function") {
    pieces.push("{");
    let separator = "";
    for (const key of Object.keys(value)) {
      const start = pieces.length;
      pieces.push(separator, JSON.stringify(key), ":");
      if (appendJson(value[key], depth - 1, pieces)) separator = ",";
      else pieces.length = start;
    }
    pieces.push("}");
    return true;
  }
  const text = stringifyJson(value) as string | undefined;
  if (text === undefined) return false;
  pieces.push(text);
  return true;
}

/**
 * A long array as runs of elements, each run one stringifyJson call: a call per element cost more
 * than the serialising. A run's size adapts so that its text stays near RUN_CHARS, far below V8's
 * large-string threshold, whatever the elements' size.
 */
function appendElements(array: unknown[], pieces: string[]): void {
  pieces.push("[");
  let count = PIECEWISE_ARRAY_LENGTH;
  for (let index = 0; index < array.length; ) {
    const run = array.slice(index, index + count);
    const text = stringifyJson(run);
    if (index > 0) pieces.push(",");
    // Without its brackets: a slice of a string is a view, not a copy.
    pieces.push(text.slice(1, -1));
    index += run.length;
    count = Math.max(1, Math.min(RUN_ELEMENTS_MAX, Math.floor((count * RUN_CHARS) / text.length)));
  }
  pieces.push("]");
}

/** UTF-8 of the pieces, joined, without ever making them one string. `length` (in UTF-16 units) is exact for ASCII. */
function encodePieces(pieces: string[], length: number): Uint8Array<ArrayBuffer> {
  let out = new Uint8Array(length);
  let written = 0;
  for (const piece of pieces) {
    let rest = piece;
    for (;;) {
      const result = encoder.encodeInto(rest, out.subarray(written));
      written += result.written;
      if (result.read === rest.length) break;
      // Multi-byte characters took more room than one byte each.
      rest = rest.slice(result.read);
      const larger = new Uint8Array(out.length * 2 + rest.length * 3);
      larger.set(out.subarray(0, written));
      out = larger;
    }
  }
  return out.subarray(0, written);
}
