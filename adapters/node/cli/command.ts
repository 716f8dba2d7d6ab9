/**
 * What every client command shares: its I/O (injectable for tests), flag parsing with the HTTP
 * flags, output format, and turning failures into one `Error: ...` line and Vault's exit codes:
 * 0 success, 1 local error (bad flags or arguments), 2 remote error (API error, unreachable).
 */
import { describeFlags, type FlagDefs, type FlagValues, parseArgs, UsageError } from "./flags.js";
import { ApiError, clientConfig, HTTP_FLAGS, TransportError, VaultClient } from "./client.js";
import { formatValue, jsonText } from "./output.js";

export const EXIT_OK = 0;
export const EXIT_LOCAL_ERROR = 1;
export const EXIT_REMOTE_ERROR = 2;

export interface CliIO {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  env: NodeJS.ProcessEnv;
  homeDir: string;
}

export interface Command {
  /** Words after `strongbox`, e.g. `kv metadata get`. */
  name: string;
  synopsis: string;
  help(): string;
  run(args: string[], io: CliIO): Promise<number>;
}

/** A failure already worded for the user; printed as `Error: <message>`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export type OutputFormat = "table" | "json";

export const FORMAT_FLAG = {
  format: { kind: "string", usage: "Output format: table or json (env VAULT_FORMAT).", placeholder: "table|json" },
} as const satisfies FlagDefs;

export const FIELD_FLAG = {
  field: { kind: "string", usage: "Print only this field, without a trailing newline when piped.", placeholder: "name" },
} as const satisfies FlagDefs;

export interface CommandContext<D extends FlagDefs> {
  flags: FlagValues<D & typeof HTTP_FLAGS>;
  args: string[];
  io: CliIO;
  format: OutputFormat;
  /** The API client, configured from flags and environment on first use. */
  client(): VaultClient;
  out(text: string): void;
  err(text: string): void;
}

export interface CommandSpec<D extends FlagDefs> {
  name: string;
  synopsis: string;
  /** Usage line(s) and description, without the flag list. */
  usage: string;
  flags: D;
  run(context: CommandContext<D>): Promise<number>;
}

export function defineCommand<D extends FlagDefs>(spec: CommandSpec<D>): Command {
  return {
    name: spec.name,
    synopsis: spec.synopsis,
    help: () =>
      [
        spec.usage.trim(),
        Object.keys(spec.flags).length > 0 ? `Command options:\n\n${describeFlags(spec.flags)}` : "",
        `HTTP options:\n\n${describeFlags(HTTP_FLAGS)}`,
      ]
        .filter(Boolean)
        .join("\n\n"),
    async run(argv, io) {
      const { flags, args } = parseArgs(argv, { ...spec.flags, ...HTTP_FLAGS } as D & typeof HTTP_FLAGS);
      let client: VaultClient | undefined;
      const rawFormat = "format" in spec.flags ? ((flags as Record<string, unknown>).format as string | undefined) : undefined;
      return spec.run({
        flags,
        args,
        io,
        format: outputFormat(rawFormat, io.env),
        client: () => (client ??= new VaultClient(clientConfig(flags, io.env, io.homeDir))),
        out: (text) => io.stdout.write(`${text}\n`),
        err: (text) => io.stderr.write(`${text}\n`),
      });
    },
  };
}

/** Runs a request and rewords its failure as `<what>: <cause>`; `exitCode` for API/transport errors. */
export async function attempt<T>(what: string, operation: () => Promise<T>, exitCode = EXIT_REMOTE_ERROR): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof ApiError || error instanceof TransportError) throw new CliError(`${what}: ${error.message}`, exitCode);
    throw error;
  }
}

/** Vault's argument-count check. */
export function expectArgs(args: string[], min: number, max: number): void {
  const expected = min === max ? String(min) : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
  if (args.length < min) throw new UsageError(`not enough arguments (expected ${expected}, got ${args.length})`);
  if (args.length > max) throw new UsageError(`too many arguments (expected ${expected}, got ${args.length})`);
}

/** A `-field` value: bare when piped (so `$(strongbox kv get -field=x ...)` is exact), JSON under `-format=json`. */
export function printField(io: CliIO, format: OutputFormat, value: unknown, field: string, where: string): number {
  if (value === undefined || value === null) throw new CliError(`field "${field}" not present in ${where}`, EXIT_LOCAL_ERROR);
  const text = format === "json" ? jsonText(value) : formatValue(value);
  io.stdout.write(io.stdout.isTTY ? `${text}\n` : text);
  return EXIT_OK;
}

function outputFormat(flag: string | undefined, env: NodeJS.ProcessEnv): OutputFormat {
  const format = (flag ?? (env.VAULT_FORMAT || "table")).toLowerCase();
  if (format !== "table" && format !== "json") throw new UsageError(`unsupported output format ${JSON.stringify(format)} (use table or json)`);
  return format;
}
