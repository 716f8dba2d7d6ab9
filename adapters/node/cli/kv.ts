/**
 * `strongbox kv put | get | delete | list | metadata get | metadata delete`.
 *
 * As Vault's CLI: a secret is named either `secret/foo` or `-mount=secret foo`; the mount and its
 * KV version come from `GET sys/internal/ui/mounts/<path>`, and KV v2 paths get `data/`, `metadata/`
 * or `delete/` inserted after the mount.
 */
import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { type FlagDefs, UsageError } from "./flags.js";
import type { VaultClient } from "./client.js";
import {
  attempt,
  CliError,
  type CliIO,
  type Command,
  defineCommand,
  EXIT_LOCAL_ERROR,
  EXIT_OK,
  EXIT_REMOTE_ERROR,
  expectArgs,
  FIELD_FLAG,
  FORMAT_FLAG,
  printField,
} from "./command.js";
import { readAll } from "./input.js";
import { headerForMap, jsonText, listTable, mapTable, pathHeader, warningsText } from "./output.js";

const MOUNT_FLAG = {
  mount: {
    kind: "string",
    usage: 'Mount path of the KV engine; the argument is then the secret\'s path inside it ("-mount=secret foo" instead of "secret/foo").',
    placeholder: "path",
  },
} as const satisfies FlagDefs;

/** Where a secret lives, learnt from the server. */
export interface KvLocation {
  /** The mount as the server reports it, with a trailing slash (`secret/`); "" if the server cannot tell. */
  mountPath: string;
  v2: boolean;
  /** The secret's path; for KV v2 (or without -mount), including the mount. */
  partialPath: string;
  mountFlagSyntax: boolean;
}

export async function locateSecret(client: VaultClient, pathArg: string, mountFlag: string | undefined): Promise<KvLocation> {
  const mountFlagSyntax = mountFlag !== undefined && mountFlag !== "";
  const partialPath = sanitizePath(pathArg);
  const probe = mountFlagSyntax ? sanitizePath(mountFlag) : partialPath;
  const { mountPath, v2 } = await attempt(`looking up the secrets engine for ${probe}`, () => preflight(client, probe));
  return { mountPath, v2, partialPath: mountFlagSyntax && v2 ? joinPath(mountPath, partialPath) : partialPath, mountFlagSyntax };
}

/** The API path (after `/v1/`) of a location; `prefix` is KV v2's `data`, `metadata` or `delete`. */
export function kvApiPath(location: KvLocation, prefix: string): string {
  if (location.v2) return addPrefixToKvPath(location.partialPath, location.mountPath, prefix);
  return location.mountFlagSyntax ? joinPath(location.mountPath, location.partialPath) : location.partialPath;
}

/** `secret/foo` with mount `secret/` and prefix `data` → `secret/data/foo`. */
export function addPrefixToKvPath(path: string, mountPath: string, prefix: string): string {
  const mount = mountPath.replace(/\/+$/, "");
  if (path === mount) return joinPath(mount, prefix);
  const suffix = path.startsWith(`${mount}/`) ? path.slice(mount.length + 1) : path;
  return joinPath(mount, prefix, suffix);
}

/** The mount owning `path` and its KV version; a server without the endpoint (404) means KV v1. */
async function preflight(client: VaultClient, path: string): Promise<{ mountPath: string; v2: boolean }> {
  const { status, body } = await client.request("GET", `sys/internal/ui/mounts/${path}`, { accept: [404] });
  if (status === 404) return { mountPath: "", v2: false };
  const data = body?.data ?? {};
  return { mountPath: typeof data.path === "string" ? data.path : "", v2: data.options?.version === "2" };
}

function sanitizePath(path: string): string {
  return path.trim().replace(/^\/+/, "").replace(/\/+$/, "");
}

/** Go's `path.Join`: empty parts dropped, no trailing slash, "" rather than ".". */
function joinPath(...parts: string[]): string {
  const joined = posix.join(...parts.filter((part) => part !== ""));
  return joined === "." ? "" : joined.replace(/\/+$/, "");
}

/**
 * `kv put` data arguments, as Vault reads them: `key=value`; `key=@file` (the file's contents);
 * `key=-` (all of stdin); `key=\@x` (a literal `@x`); `@file.json` or `-` (a JSON object merged in).
 * A repeated key becomes a list. Error messages never repeat a value.
 */
export async function parseKvData(
  args: string[],
  readStdin: () => Promise<string>,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): Promise<Record<string, unknown>> {
  const data: Record<string, unknown> = {};
  let stdinUsed = false;
  const stdinOnce = async (position: number) => {
    if (stdinUsed) throw new UsageError(`data argument ${position}: stdin can only be read once`);
    stdinUsed = true;
    return readStdin();
  };
  const fileContents = (path: string, position: number) => {
    try {
      return readFile(path);
    } catch (error) {
      throw new UsageError(`data argument ${position}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  const mergeJson = (text: string, position: number) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UsageError(`data argument ${position}: not valid JSON`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`data argument ${position}: JSON must be an object`);
    Object.assign(data, parsed);
  };

  for (const [index, arg] of args.entries()) {
    const position = index + 1;
    if (arg === "") continue;
    const equals = arg.indexOf("=");
    if (equals === -1) {
      if (arg === "-") mergeJson(await stdinOnce(position), position);
      else if (arg.startsWith("@")) mergeJson(fileContents(arg.slice(1), position), position);
      else throw new UsageError(`data argument ${position} is not key=value`);
      continue;
    }
    const key = arg.slice(0, equals);
    let value = arg.slice(equals + 1);
    if (value.startsWith("@")) value = fileContents(value.slice(1), position);
    else if (value.startsWith("\\@")) value = value.slice(1);
    else if (value === "-") value = await stdinOnce(position);

    const existing = data[key];
    data[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return data;
}

function printWarnings(io: CliIO, body: any): void {
  const text = warningsText(body?.warnings);
  if (text) io.stderr.write(`${text}\n`);
}

function notFound(path: string): CliError {
  return new CliError(`no value found at ${path}`, EXIT_REMOTE_ERROR);
}

export const kvPutCommand: Command = defineCommand({
  name: "kv put",
  synopsis: "Write a secret (a new version on KV v2)",
  usage: `
Usage: strongbox kv put [options] PATH KEY=VALUE...

  Writes the data to PATH, replacing what was there (on KV v2: as a new version).

      $ strongbox kv put secret/app user=admin password=@password.txt
      $ strongbox kv put -mount=secret app - < data.json
      $ strongbox kv put -cas=3 secret/app user=admin

  VALUE may be @FILE (the file's contents) or - (stdin); an argument @FILE or -
  alone is a JSON object to merge in.`,
  flags: {
    ...MOUNT_FLAG,
    cas: { kind: "int", usage: "KV v2 check-and-set: write only if the current version is this (0: only if the secret does not exist)." },
    ...FORMAT_FLAG,
    ...FIELD_FLAG,
  },
  async run({ flags, args, io, format, client, out }) {
    if (args.length === 1) throw new UsageError("no data given (expected KEY=VALUE arguments after the path)");
    expectArgs(args, 2, Infinity);
    const data = await parseKvData(args.slice(1), () => readAll(io.stdin));
    const location = await locateSecret(client(), args[0]!, flags.mount);
    const fullPath = kvApiPath(location, "data");
    const payload = location.v2 ? { data, options: flags.cas !== undefined && flags.cas >= 0 ? { cas: flags.cas } : {} } : data;
    const { body } = await attempt(`writing data to ${fullPath}`, () => client().request("PUT", fullPath, { body: payload }));

    if (body === null) {
      if (format === "table") out(`Success! Data written to: ${fullPath}`);
      return EXIT_OK;
    }
    if (flags.field !== undefined) return printField(io, format, body.data?.[flags.field], flags.field, "the response");
    if (format === "json") {
      out(jsonText(body));
      return EXIT_OK;
    }
    printWarnings(io, body);
    const metadata = body.data ?? {};
    out(pathHeader("Secret Path", fullPath));
    out(headerForMap("Metadata", metadata));
    out(mapTable(metadata));
    return EXIT_OK;
  },
});

export const kvGetCommand: Command = defineCommand({
  name: "kv get",
  synopsis: "Read a secret",
  usage: `
Usage: strongbox kv get [options] PATH

  Reads the secret at PATH (on KV v2: its latest version, or -version=N).

      $ strongbox kv get secret/app
      $ strongbox kv get -mount=secret -version=2 -field=password app`,
  flags: {
    ...MOUNT_FLAG,
    version: { kind: "int", usage: "KV v2: read this version instead of the latest." },
    ...FORMAT_FLAG,
    ...FIELD_FLAG,
  },
  async run({ flags, args, io, format, client, out }) {
    expectArgs(args, 1, 1);
    const location = await locateSecret(client(), args[0]!, flags.mount);
    const fullPath = kvApiPath(location, "data");
    const query = location.v2 && flags.version !== undefined && flags.version > 0 ? { version: String(flags.version) } : undefined;
    const { status, body } = await attempt(`reading ${fullPath}`, () => client().request("GET", fullPath, { query, accept: [404] }));
    // A 404 may still carry the metadata of a deleted or destroyed version.
    if (status === 404 && !(body?.data || body?.warnings?.length)) throw notFound(fullPath);

    const secretData: Record<string, unknown> | null = location.v2 ? (body?.data?.data ?? null) : (body?.data ?? null);
    if (flags.field !== undefined) {
      if (location.v2 && secretData === null) throw new CliError(`no data found at ${fullPath}`, EXIT_REMOTE_ERROR);
      // `-field=data` on KV v2 means the whole data map, unless the secret has its own `data` key.
      const value = flags.field === "data" && location.v2 && !("data" in secretData!) ? secretData : secretData?.[flags.field];
      return printField(io, format, value, flags.field, "the secret");
    }
    if (format === "json") {
      out(jsonText(body));
      return EXIT_OK;
    }
    printWarnings(io, body);
    if (location.v2) out(pathHeader("Secret Path", fullPath));
    const metadata = body?.data?.metadata;
    if (location.v2 && metadata) out(`${headerForMap("Metadata", metadata)}\n${mapTable(metadata)}\n`);
    if (secretData) out(`${headerForMap("Data", secretData)}\n${mapTable(secretData)}`);
    return EXIT_OK;
  },
});

export const kvDeleteCommand: Command = defineCommand({
  name: "kv delete",
  synopsis: "Delete a secret (on KV v2: soft-delete its latest version)",
  usage: `
Usage: strongbox kv delete [options] PATH

  On KV v1, removes the secret. On KV v2, soft-deletes the latest version (or the
  versions given with -versions); "kv metadata delete" removes every version.`,
  flags: {
    ...MOUNT_FLAG,
    versions: { kind: "list", usage: "KV v2: soft-delete these versions (repeat the flag or separate with commas).", placeholder: "n,m" },
  },
  async run({ flags, args, client, out }) {
    expectArgs(args, 1, 1);
    const location = await locateSecret(client(), args[0]!, flags.mount);
    const fullPath = kvApiPath(location, "data");
    const versions = flags.versions
      .flatMap((list) => list.split(","))
      .map((v) => v.trim())
      .filter(Boolean);
    if (versions.length > 0 && !location.v2) throw new UsageError("-versions needs a KV v2 mount");
    if (versions.length > 0) {
      const deletePath = kvApiPath(location, "delete");
      await attempt(`deleting ${deletePath}`, () => client().request("PUT", deletePath, { body: { versions } }));
    } else {
      await attempt(`deleting ${fullPath}`, () => client().request("DELETE", fullPath, { accept: [404] }));
    }
    out(`Success! Data deleted (if it existed) at: ${fullPath}`);
    return EXIT_OK;
  },
});

export const kvListCommand: Command = defineCommand({
  name: "kv list",
  synopsis: "List the secrets under a path",
  usage: `
Usage: strongbox kv list [options] PATH

  Lists the keys under PATH; names ending in "/" are folders.

      $ strongbox kv list secret/
      $ strongbox kv list -mount=secret`,
  flags: { ...MOUNT_FLAG, ...FORMAT_FLAG },
  async run({ flags, args, format, client, out }) {
    if (args.length === 0 && flags.mount) args = [""];
    expectArgs(args, 1, 1);
    const location = await locateSecret(client(), args[0]!, flags.mount);
    const fullPath = kvApiPath(location, "metadata");
    const { status, body } = await attempt(`listing ${fullPath}`, () => client().request("GET", `${fullPath}/`, { query: { list: "true" }, accept: [404] }));
    const keys: unknown = body?.data?.keys;
    if (status === 404 || !Array.isArray(keys)) {
      if (format === "json") {
        out("{}");
        return EXIT_REMOTE_ERROR;
      }
      throw notFound(fullPath);
    }
    out(format === "json" ? jsonText(keys) : listTable(keys.map(String)));
    return EXIT_OK;
  },
});

export const kvMetadataGetCommand: Command = defineCommand({
  name: "kv metadata get",
  synopsis: "Read a KV v2 secret's metadata and versions",
  usage: `
Usage: strongbox kv metadata get [options] PATH

  Prints the metadata of a KV v2 secret and of each of its versions.`,
  flags: { ...MOUNT_FLAG, ...FORMAT_FLAG, ...FIELD_FLAG },
  async run({ flags, args, io, format, client, out }) {
    expectArgs(args, 1, 1);
    const location = await locateSecret(client(), args[0]!, flags.mount);
    if (!location.v2) throw new CliError("metadata is only kept by KV version 2", EXIT_LOCAL_ERROR);
    const fullPath = kvApiPath(location, "metadata");
    const { status, body } = await attempt(`reading ${fullPath}`, () => client().request("GET", fullPath, { accept: [404] }));
    if (status === 404 || !body?.data) throw notFound(fullPath);

    if (flags.field !== undefined) return printField(io, format, body.data[flags.field], flags.field, "the metadata");
    if (format === "json") {
      out(jsonText(body));
      return EXIT_OK;
    }
    printWarnings(io, body);
    const { versions, ...metadata } = body.data as { versions?: Record<string, Record<string, unknown>> };
    out(pathHeader("Metadata Path", fullPath));
    out(headerForMap("Metadata", metadata));
    out(mapTable(metadata));
    const numbers = Object.keys(versions ?? {})
      .map(Number)
      .sort((a, b) => a - b);
    for (const version of numbers) {
      const details = versions![String(version)]!;
      out(`\n${headerForMap(`Version ${version}`, details)}`);
      out(mapTable(details));
    }
    return EXIT_OK;
  },
});

export const kvMetadataDeleteCommand: Command = defineCommand({
  name: "kv metadata delete",
  synopsis: "Delete a KV v2 secret with all its versions and metadata",
  usage: `
Usage: strongbox kv metadata delete [options] PATH

  Permanently removes every version of a KV v2 secret and its metadata.`,
  flags: { ...MOUNT_FLAG },
  async run({ flags, args, client, out }) {
    expectArgs(args, 1, 1);
    const location = await locateSecret(client(), args[0]!, flags.mount);
    if (!location.v2) throw new CliError("metadata is only kept by KV version 2", EXIT_LOCAL_ERROR);
    const fullPath = kvApiPath(location, "metadata");
    await attempt(`deleting ${fullPath}`, () => client().request("DELETE", fullPath, { accept: [404] }));
    out(`Success! Data deleted (if it existed) at: ${fullPath}`);
    return EXIT_OK;
  },
});
