/**
 * Vault-style command-line flags: `-name=value`, `-name value`, `--name=value`, `--name value`;
 * booleans take no separate value (`-reset`, `-reset=false`); `list` flags may repeat. Flags may
 * appear anywhere among the positional arguments; `--` ends the flags.
 */

/** A mistake in how the command was called: exit code 1, as Vault's CLI does for local errors. */
export class UsageError extends Error {}

export type FlagDef =
  | { kind: "string"; usage: string; aliases?: readonly string[]; placeholder?: string }
  | { kind: "int"; usage: string; aliases?: readonly string[] }
  | { kind: "bool"; usage: string; aliases?: readonly string[] }
  | { kind: "list"; usage: string; aliases?: readonly string[]; placeholder?: string };

export type FlagDefs = Record<string, FlagDef>;

type ValueOf<D extends FlagDef> = D["kind"] extends "bool"
  ? boolean | undefined
  : D["kind"] extends "int"
    ? number | undefined
    : D["kind"] extends "list"
      ? string[]
      : string | undefined;

/** Unset flags are `undefined` (lists: `[]`), so callers can tell "not given" from a default. */
export type FlagValues<D extends FlagDefs> = { -readonly [K in keyof D]: ValueOf<D[K]> };

export interface ParsedArgs<D extends FlagDefs> {
  flags: FlagValues<D>;
  args: string[];
}

export function parseArgs<D extends FlagDefs>(argv: readonly string[], defs: D): ParsedArgs<D> {
  const byName = new Map<string, [string, FlagDef]>();
  for (const [name, def] of Object.entries(defs)) {
    for (const alias of [name, ...(def.aliases ?? [])]) byName.set(alias, [name, def]);
  }
  const values: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) values[name] = def.kind === "list" ? [] : undefined;

  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    // A lone "-" is a positional (stdin), and so is anything not starting with a dash.
    if (!arg.startsWith("-") || arg === "-") {
      args.push(arg);
      continue;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const equals = body.indexOf("=");
    const given = equals === -1 ? body : body.slice(0, equals);
    const inline = equals === -1 ? undefined : body.slice(equals + 1);
    const found = byName.get(given);
    if (!found || given === "") throw new UsageError(`unknown flag -${given}`);
    const [name, def] = found;

    if (def.kind === "bool") {
      values[name] = inline === undefined ? true : parseBool(inline, `-${given}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag -${given} needs a value`);
      value = argv[++i]!;
    }
    if (def.kind === "int") values[name] = parseInteger(value, `-${given}`);
    else if (def.kind === "list") (values[name] as string[]).push(value);
    else values[name] = value;
  }
  return { flags: values as FlagValues<D>, args };
}

/** Go's strconv.ParseBool, which Vault uses for flags and environment variables. */
export function parseBool(text: string, what: string): boolean {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(text)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(text)) return false;
  throw new UsageError(`invalid boolean ${JSON.stringify(text)} for ${what}`);
}

function parseInteger(text: string, what: string): number {
  if (!/^[+-]?\d+$/.test(text.trim())) throw new UsageError(`invalid integer ${JSON.stringify(text)} for ${what}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new UsageError(`integer out of range for ${what}`);
  return value;
}

/** `-name=<placeholder>` lines with indented usage, for a command's help text. */
export function describeFlags(defs: FlagDefs): string {
  return Object.entries(defs)
    .map(([name, def]) => {
      const spelling = def.kind === "bool" ? `-${name}` : `-${name}=<${("placeholder" in def && def.placeholder) || def.kind}>`;
      const aliases = (def.aliases ?? []).map((alias) => `, -${alias}`).join("");
      return `  ${spelling}${aliases}\n      ${def.usage}`;
    })
    .join("\n\n");
}
