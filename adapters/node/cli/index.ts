/**
 * Dispatches `strongbox <command> [subcommand] [args]` to the client commands, with Vault's
 * conventions: `-h`/`-help`/`--help` anywhere prints help (exit 0); no command or an unknown one
 * prints usage and exits 127 (as Vault's CLI library does); a group such as `kv` without a known
 * subcommand prints its subcommands and exits 1; bad flags or arguments exit 1; API errors exit 2.
 */
import { VERSION } from "../../../src/sdk/version.js";
import { UsageError } from "./flags.js";
import { authDisableCommand, authEnableCommand, authListCommand } from "./auth.js";
import { CliError, type CliIO, type Command, EXIT_LOCAL_ERROR, EXIT_OK } from "./command.js";
import { deleteCommand, listCommand, readCommand, writeCommand } from "./generic.js";
import { kvDeleteCommand, kvGetCommand, kvListCommand, kvMetadataDeleteCommand, kvMetadataGetCommand, kvPutCommand } from "./kv.js";
import { loginCommand } from "./login.js";
import { operatorInitCommand, operatorSealCommand, operatorUnsealCommand } from "./operator.js";
import { operatorGenerateRootCommand } from "./generate-root.js";
import { policyDeleteCommand, policyListCommand, policyReadCommand, policyWriteCommand } from "./policy.js";
import { statusCommand } from "./status.js";
import { tokenCreateCommand, tokenLookupCommand, tokenRevokeCommand } from "./token.js";

export const EXIT_UNKNOWN_COMMAND = 127;

const COMMANDS: Command[] = [
  statusCommand,
  operatorInitCommand,
  operatorUnsealCommand,
  operatorSealCommand,
  operatorGenerateRootCommand,
  kvPutCommand,
  kvGetCommand,
  kvDeleteCommand,
  kvListCommand,
  kvMetadataGetCommand,
  kvMetadataDeleteCommand,
  loginCommand,
  policyWriteCommand,
  policyReadCommand,
  policyListCommand,
  policyDeleteCommand,
  authEnableCommand,
  authDisableCommand,
  authListCommand,
  tokenCreateCommand,
  tokenLookupCommand,
  tokenRevokeCommand,
  readCommand,
  writeCommand,
  listCommand,
  deleteCommand,
];

/** Words that only group subcommands. */
const GROUPS: Record<string, string> = {
  operator: "Initialize, unseal and seal a server; generate a root token",
  kv: "Read and write secrets in a KV secrets engine",
  "kv metadata": "Read and delete KV v2 metadata",
  policy: "Write, read, list and delete ACL policies",
  auth: "Enable, disable and list auth methods",
  token: "Create, look up and revoke tokens",
};

const HELP_FLAGS = new Set(["-h", "-help", "--help"]);
const VERSION_FLAGS = new Set(["-v", "-version", "--version"]);

export const USAGE = `Usage: strongbox <command> [args]

Commands:
    server      Run a Strongbox server (see "strongbox server -h")
    status      Print seal and HA status
    operator    ${GROUPS.operator}
    kv          ${GROUPS.kv}
    login       Authenticate and store the token for later commands
    policy      ${GROUPS.policy}
    auth        ${GROUPS.auth}
    token       ${GROUPS.token}
    read        Read data at a path
    write       Write data to a path
    list        List the keys under a path
    delete      Delete data at a path
    version     Print the Strongbox version

Client commands find the server and token as Vault's CLI does: VAULT_ADDR
(default https://127.0.0.1:8200) or -address, VAULT_TOKEN or ~/.vault-token,
VAULT_CACERT / -ca-cert, VAULT_SKIP_VERIFY / -tls-skip-verify, VAULT_FORMAT.
Run "strongbox <command> -h" for a command's options.`;

export function versionText(): string {
  return `Strongbox v${VERSION}`;
}

/** Runs a client command (anything but `server`); resolves with the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const beforeDashes = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  const wantsHelp = beforeDashes.some((arg) => HELP_FLAGS.has(arg));
  const print = (text: string) => io.stdout.write(`${text}\n`);
  const printError = (text: string) => io.stderr.write(`${text}\n`);

  if (argv[0] === "version" || (argv.length === 1 && VERSION_FLAGS.has(argv[0]!))) {
    print(versionText());
    return EXIT_OK;
  }

  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith("-")) break;
    words.push(arg);
  }
  // The longest run of leading words naming a command or a group.
  let command: Command | undefined;
  let group: string | undefined;
  for (let length = words.length; length > 0 && !command && !group; length--) {
    const name = words.slice(0, length).join(" ");
    command = COMMANDS.find((candidate) => candidate.name === name);
    if (!command && name in GROUPS) group = name;
  }

  if (command) {
    if (wantsHelp) {
      print(command.help());
      return EXIT_OK;
    }
    const args = argv.slice(command.name.split(" ").length);
    try {
      return await command.run(args, io);
    } catch (error) {
      if (error instanceof UsageError) {
        printError(`Error: ${error.message}\nRun "strongbox ${command.name} -h" for usage.`);
        return EXIT_LOCAL_ERROR;
      }
      if (error instanceof CliError) {
        printError(`Error: ${error.message}`);
        return error.exitCode;
      }
      printError(`Error: ${command.name} failed unexpectedly: ${(error as Error).message ?? String(error)}`);
      return EXIT_LOCAL_ERROR;
    }
  }

  if (group) {
    if (wantsHelp) {
      print(groupHelp(group));
      return EXIT_OK;
    }
    const unknown = words[group.split(" ").length];
    printError(`${unknown === undefined ? "" : `Error: unknown command "${group} ${unknown}"\n\n`}${groupHelp(group)}`);
    return EXIT_LOCAL_ERROR;
  }

  if (wantsHelp && words.length === 0) {
    print(USAGE);
    return EXIT_OK;
  }
  if (words.length === 0 && argv.length > 0) {
    printError(`Error: flags must come after the command (${JSON.stringify(argv[0])})\n\n${USAGE}`);
    return EXIT_LOCAL_ERROR;
  }
  printError(`${words.length > 0 ? `Error: unknown command "${words[0]}"\n\n` : ""}${USAGE}`);
  return EXIT_UNKNOWN_COMMAND;
}

function groupHelp(group: string): string {
  const prefix = `${group} `;
  const entries: [string, string][] = [
    ...Object.entries(GROUPS)
      .filter(([name]) => name.startsWith(prefix) && !name.slice(prefix.length).includes(" "))
      .map(([name, synopsis]): [string, string] => [name.slice(prefix.length), synopsis]),
    ...COMMANDS.filter((c) => c.name.startsWith(prefix) && !c.name.slice(prefix.length).includes(" ")).map((c): [string, string] => [
      c.name.slice(prefix.length),
      c.synopsis,
    ]),
  ].sort(([a], [b]) => (a < b ? -1 : 1));
  const width = Math.max(...entries.map(([name]) => name.length));
  return [
    `Usage: strongbox ${group} <subcommand> [options] [args]`,
    "",
    `  ${GROUPS[group]}.`,
    "",
    "Subcommands:",
    ...entries.map(([name, synopsis]) => `    ${name.padEnd(width)}    ${synopsis}`),
  ].join("\n");
}
