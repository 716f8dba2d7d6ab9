/**
 * `strongbox read | write | list | delete PATH`: any API path, as Vault's generic commands (how
 * userpass users and AppRole roles are managed from the command line).
 */
import { attempt, CliError, type Command, defineCommand, EXIT_OK, EXIT_REMOTE_ERROR, expectArgs, FIELD_FLAG, FORMAT_FLAG } from "./command.js";
import { readAll } from "./input.js";
import { parseKvData } from "./kv.js";
import { jsonText, listTable } from "./output.js";
import { printSecret } from "./secret-output.js";

const apiPath = (path: string) => path.replace(/^\/+/, "");

export const readCommand: Command = defineCommand({
  name: "read",
  synopsis: "Read data at a path",
  usage: `
Usage: strongbox read [options] PATH [KEY=VALUE...]

  Reads PATH; KEY=VALUE arguments become query parameters.

      $ strongbox read auth/userpass/users/alice
      $ strongbox read -field=role_id auth/approle/role/ci/role-id`,
  flags: { ...FORMAT_FLAG, ...FIELD_FLAG },
  async run({ flags, args, io, format, client }) {
    expectArgs(args, 1, Infinity);
    const path = apiPath(args[0]!);
    const query = Object.fromEntries(Object.entries(await parseKvData(args.slice(1), () => readAll(io.stdin))).map(([k, v]) => [k, String(v)]));
    const { status, body } = await attempt(`reading ${path}`, () => client().request("GET", path, { query, accept: [404] }));
    if (status === 404 || body === null) throw new CliError(`no value found at ${path}`, EXIT_REMOTE_ERROR);
    return printSecret(io, format, body, flags.field);
  },
});

export const writeCommand: Command = defineCommand({
  name: "write",
  synopsis: "Write data to a path",
  usage: `
Usage: strongbox write [options] PATH [KEY=VALUE...]

  Writes the data to PATH. VALUE may be @FILE or - (stdin); an argument @FILE
  or - alone is a JSON object to merge in.

      $ strongbox write auth/userpass/users/alice password=- token_policies=app-read
      $ strongbox write -f auth/approle/role/ci/secret-id`,
  flags: { force: { kind: "bool", usage: "Write even without data.", aliases: ["f"] }, ...FORMAT_FLAG, ...FIELD_FLAG },
  async run({ flags, args, io, format, client, out }) {
    expectArgs(args, flags.force ? 1 : 2, Infinity);
    const path = apiPath(args[0]!);
    const data = await parseKvData(args.slice(1), () => readAll(io.stdin));
    const { body } = await attempt(`writing data to ${path}`, () => client().request("PUT", path, { body: data }));
    if (body === null) {
      if (format === "table") out(`Success! Data written to: ${path}`);
      return EXIT_OK;
    }
    return printSecret(io, format, body, flags.field);
  },
});

export const listCommand: Command = defineCommand({
  name: "list",
  synopsis: "List the keys under a path",
  usage: `
Usage: strongbox list [options] PATH

  Lists the keys under PATH; names ending in "/" are folders.

      $ strongbox list auth/userpass/users`,
  flags: { ...FORMAT_FLAG },
  async run({ args, format, client, out }) {
    expectArgs(args, 1, 1);
    const path = apiPath(args[0]!).replace(/\/*$/, "/");
    const { status, body } = await attempt(`listing ${path}`, () => client().request("GET", path, { query: { list: "true" }, accept: [404] }));
    const keys: unknown = body?.data?.keys;
    if (status === 404 || !Array.isArray(keys)) throw new CliError(`no value found at ${path}`, EXIT_REMOTE_ERROR);
    out(format === "json" ? jsonText(keys) : listTable(keys.map(String)));
    return EXIT_OK;
  },
});

export const deleteCommand: Command = defineCommand({
  name: "delete",
  synopsis: "Delete data at a path",
  usage: `
Usage: strongbox delete [options] PATH

  Deletes the data at PATH.

      $ strongbox delete auth/userpass/users/alice`,
  flags: {},
  async run({ args, client, out }) {
    expectArgs(args, 1, 1);
    const path = apiPath(args[0]!);
    await attempt(`deleting ${path}`, () => client().request("DELETE", path, { accept: [404] }));
    out(`Success! Data deleted (if it existed) at: ${path}`);
    return EXIT_OK;
  },
});
