/**
 * A strict parser for HCL as Vault's configuration files and policies use it (HCL 1): attributes
 * (`key = value`, quoted keys too), blocks with and without labels (`listener "tcp" { ... }`,
 * `telemetry { ... }`), strings with escapes, heredocs (`<<EOF`, and `<<-EOF` which drops the
 * common indentation), numbers, booleans, lists and objects, and `#`, `//` and `/* *\/` comments.
 * `${...}` interpolation stays literal text inside strings, as in HCL 1. Errors name the line and
 * column. `hclToJson` gives a document the JSON shape Vault's JSON configuration files have.
 */

import { MAX_JSON_DEPTH } from "./encoding.js";

export type HclValue = string | number | boolean | HclValue[] | HclObject;

export interface HclObject {
  kind: "object";
  items: HclItem[];
}

/** `key = value` or `key "label"... { body }` (a block: then `value` is the body). */
export interface HclItem {
  key: string;
  labels: string[];
  value: HclValue;
  block: boolean;
  line: number;
}

export class HclSyntaxError extends Error {
  override name = "HclSyntaxError";
  constructor(
    readonly line: number,
    readonly column: number,
    /** What is wrong, without the position. */
    readonly problem: string,
  ) {
    super(`line ${line}, column ${column}: ${problem}`);
  }
}

type TokenKind = "string" | "number" | "ident" | "punct" | "eof";

interface Token {
  kind: TokenKind;
  text: string;
  line: number;
  column: number;
}

/** Parses a whole HCL document into its top-level items. */
export function parseHcl(source: string): HclItem[] {
  const parser = new Parser(tokenize(source));
  const items = parser.body();
  parser.expectEnd();
  return items;
}

class Parser {
  #position = 0;
  #depth = 0;
  constructor(readonly tokens: Token[]) {}

  body(closing?: string): HclItem[] {
    const items: HclItem[] = [];
    for (;;) {
      const token = this.#peek();
      if (token.kind === "eof" || (closing && token.kind === "punct" && token.text === closing)) return items;
      items.push(this.#item());
      if (this.#peekPunct(",")) this.#next(); // HCL 1 allows commas between object items
    }
  }

  expectEnd(): void {
    const token = this.#peek();
    if (token.kind !== "eof") throw syntax(token, `unexpected ${describe(token)}`);
  }

  #item(): HclItem {
    const keyToken = this.#next();
    if (keyToken.kind !== "ident" && keyToken.kind !== "string") throw syntax(keyToken, `expected a key, got ${describe(keyToken)}`);
    const labels: string[] = [];
    while (this.#peek().kind === "string") labels.push(this.#next().text);
    const next = this.#peek();
    if (next.kind === "punct" && next.text === "{") {
      return { key: keyToken.text, labels, value: this.#object(), block: true, line: keyToken.line };
    }
    if (labels.length > 0) throw syntax(next, `expected "{" to open the "${keyToken.text}" block, got ${describe(next)}`);
    this.#expectPunct("=", `after "${keyToken.text}"`);
    return { key: keyToken.text, labels, value: this.#value(), block: false, line: keyToken.line };
  }

  #value(): HclValue {
    const token = this.#peek();
    if (token.kind === "punct" && token.text === "[") return this.#list();
    if (token.kind === "punct" && token.text === "{") return this.#object();
    this.#next();
    switch (token.kind) {
      case "string":
        return token.text;
      case "number":
        return Number(token.text);
      case "ident":
        if (token.text === "true") return true;
        if (token.text === "false") return false;
        throw syntax(token, `unknown value ${token.text} (strings must be quoted)`);
      default:
        throw syntax(token, `expected a value, got ${describe(token)}`);
    }
  }

  #list(): HclValue[] {
    this.#enter();
    this.#expectPunct("[");
    const values: HclValue[] = [];
    while (!this.#peekPunct("]")) {
      values.push(this.#value());
      if (this.#peekPunct("]")) break;
      this.#expectPunct(",", "between list elements");
    }
    this.#expectPunct("]");
    this.#depth--;
    return values;
  }

  #object(): HclObject {
    this.#enter();
    this.#expectPunct("{");
    const items = this.body("}");
    this.#expectPunct("}", "to close the block");
    this.#depth--;
    return { kind: "object", items };
  }

  /** Bounds the recursion: deeper input would overflow the stack instead of getting an error. */
  #enter(): void {
    if (++this.#depth > MAX_JSON_DEPTH) throw syntax(this.#peek(), `nested deeper than ${MAX_JSON_DEPTH} levels`);
  }

  #peek(): Token {
    return this.tokens[this.#position]!;
  }

  #peekPunct(text: string): boolean {
    const token = this.#peek();
    return token.kind === "punct" && token.text === text;
  }

  #next(): Token {
    const token = this.tokens[this.#position]!;
    if (token.kind !== "eof") this.#position++;
    return token;
  }

  #expectPunct(text: string, where = ""): void {
    const token = this.#next();
    if (token.kind !== "punct" || token.text !== text) throw syntax(token, `expected "${text}"${where ? ` ${where}` : ""}, got ${describe(token)}`);
  }
}

// Sticky, so each match starts at the cursor without copying the rest of the source.
const NUMBER = /-?\d+(\.\d+)?([eE][-+]?\d+)?/y;
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_.-]*/y;

function stickyMatch(pattern: RegExp, source: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(source)?.[0];
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const token = (kind: TokenKind, text: string, column = i - lineStart + 1): Token => ({ kind, text, line, column });
  const fail = (message: string): never => {
    throw new HclSyntaxError(line, i - lineStart + 1, message);
  };

  while (i < source.length) {
    const char = source[i]!;
    if (char === "\n") {
      i++;
      line++;
      lineStart = i;
    } else if (/\s/.test(char)) {
      i++;
    } else if (char === "#" || source.startsWith("//", i)) {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      if (end === -1) fail("unterminated /* comment");
      for (; i < end + 2; i++) {
        if (source[i] === "\n") {
          line++;
          lineStart = i + 1;
        }
      }
    } else if (char === '"') {
      const column = i - lineStart + 1;
      i++;
      let text = "";
      for (;;) {
        const c = source[i];
        if (c === undefined || c === "\n") fail("unterminated string");
        i++;
        if (c === '"') break;
        if (c !== "\\") {
          text += c;
          continue;
        }
        const escape = source[i++];
        const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
        if (escape !== undefined && simple[escape] !== undefined) {
          text += simple[escape];
        } else if (escape === "u" && /^[0-9a-fA-F]{4}$/.test(source.slice(i, i + 4))) {
          text += String.fromCharCode(parseInt(source.slice(i, i + 4), 16));
          i += 4;
        } else {
          fail(`invalid escape sequence \\${escape ?? ""} in string`);
        }
      }
      tokens.push(token("string", text, column));
    } else if (source.startsWith("<<", i)) {
      const opening = token("string", "");
      HEREDOC.lastIndex = i;
      const [header, indented, marker] = HEREDOC.exec(source) ?? fail("a heredoc starts with <<MARKER or <<-MARKER alone at the end of its line");
      i += header.length;
      const lines: string[] = [];
      for (;;) {
        if (i >= source.length) throw syntax(opening, `unterminated heredoc: no line holds its closing ${marker}`);
        const end = source.indexOf("\n", i) === -1 ? source.length : source.indexOf("\n", i);
        const text = source.slice(i, end);
        line++;
        i = end + 1;
        lineStart = i;
        if (text.trim() === marker) break;
        lines.push(text);
      }
      tokens.push({ ...opening, text: heredocText(lines, indented === "-") });
    } else if (/[-0-9]/.test(char)) {
      const text = stickyMatch(NUMBER, source, i);
      if (text === undefined) fail(`unexpected "${char}"`);
      tokens.push(token("number", text!));
      i += text!.length;
    } else if (/[A-Za-z_]/.test(char)) {
      const text = stickyMatch(IDENTIFIER, source, i)!;
      tokens.push(token("ident", text));
      i += text.length;
    } else if ("={}[],".includes(char)) {
      tokens.push(token("punct", char));
      i++;
    } else {
      fail(`unexpected character ${JSON.stringify(char)}`);
    }
  }
  tokens.push(token("eof", ""));
  return tokens;
}

/** `<<EOF` or `<<-EOF` and the rest of its line (only blanks may follow the marker). */
const HEREDOC = /<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n/y;

/** The heredoc's lines, each ending in a newline; with `<<-`, without their common indentation. */
function heredocText(lines: string[], indented: boolean): string {
  if (lines.length === 0) return "";
  let body = lines;
  if (indented) {
    const indents = lines.filter((text) => text.trim() !== "").map((text) => /^[ \t]*/.exec(text)![0].length);
    const common = indents.length > 0 ? Math.min(...indents) : 0;
    body = lines.map((text) => text.slice(common));
  }
  return `${body.join("\n")}\n`;
}

function describe(token: Token): string {
  switch (token.kind) {
    case "eof":
      return "end of input";
    case "string":
      return `string ${JSON.stringify(token.text)}`;
    default:
      return `"${token.text}"`;
  }
}

function syntax(token: Token, message: string): HclSyntaxError {
  return new HclSyntaxError(token.line, token.column, message);
}

/**
 * A document as JSON, in the shape the HCL → JSON converters give Vault's configuration:
 * attributes become values, a block becomes a list of bodies under its key and labels
 * (`listener "tcp" {}` twice → `{"listener": {"tcp": [{...}, {...}]}}`, `telemetry {}` →
 * `{"telemetry": [{...}]}`). An attribute set twice, or a key used for both, is an error.
 */
export function hclToJson(items: HclItem[]): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  const attributeLines = new Map<string, number>();
  for (const item of items) {
    const earlier = attributeLines.get(item.key);
    if (earlier !== undefined || (!item.block && Object.hasOwn(json, item.key))) {
      throw new HclSyntaxError(item.line, 1, `"${item.key}" is already set${earlier !== undefined ? ` on line ${earlier}` : " by a block"}`);
    }
    if (!item.block) {
      attributeLines.set(item.key, item.line);
      define(json, item.key, jsonValue(item.value));
      continue;
    }
    // Each label opens one more object level; the last level lists the bodies.
    let level = json;
    const path = [item.key, ...item.labels];
    for (const [depth, name] of path.entries()) {
      const last = depth === path.length - 1;
      if (!Object.hasOwn(level, name)) define(level, name, last ? [] : {});
      const next = level[name];
      if (last ? !Array.isArray(next) : typeof next !== "object" || next === null || Array.isArray(next)) {
        throw new HclSyntaxError(item.line, 1, `"${item.key}" blocks must all have the same number of labels, and not also be set as an attribute`);
      }
      if (last) (next as unknown[]).push(jsonValue(item.value));
      else level = next as Record<string, unknown>;
    }
  }
  return json;
}

function jsonValue(value: HclValue): unknown {
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === "object") return hclToJson(value.items);
  return value;
}

/** Sets an own property whatever the key (a "__proto__" key stays data, not a prototype). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
