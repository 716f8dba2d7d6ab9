/** `strongbox operator init | unseal | seal`. */
import { readFileSync } from "node:fs";
import {
  attempt,
  CliError,
  type Command,
  defineCommand,
  EXIT_LOCAL_ERROR,
  EXIT_OK,
  EXIT_REMOTE_ERROR,
  expectArgs,
  FORMAT_FLAG,
  type OutputFormat,
} from "./command.js";
import type { VaultClient } from "./client.js";
import { readSecret } from "./input.js";
import { jsonText } from "./output.js";
import { printSealStatus, sealStatusView } from "./status.js";

const DEFAULT_KEY_SHARES = 5;
const DEFAULT_KEY_THRESHOLD = 3;

interface InitResponse {
  keys?: string[];
  keys_base64?: string[];
  recovery_keys?: string[];
  recovery_keys_base64?: string[];
  root_token?: string;
}

export const operatorInitCommand: Command = defineCommand({
  name: "operator init",
  synopsis: "Initialize a server: create the unseal key shares and the root token",
  usage: `
Usage: strongbox operator init [options]

  Initializes a new server: generates the root key, splits it into key shares
  (Shamir's secret sharing) and creates the initial root token. This happens
  once per storage backend; the output is the only time the shares and the root
  token are shown.

      $ strongbox operator init -key-shares=5 -key-threshold=3

  With an auto-unseal seal (seal "awskms"), the server keeps the root key
  encrypted by KMS and unseals itself; init then prints recovery keys instead
  (-recovery-shares, -recovery-threshold), which authorize operator actions
  such as \`operator unseal\` after \`operator seal\` but decrypt nothing.

  -pgp-keys, -recovery-pgp-keys (comma-separated files, one public key per
  share, binary or base64 as \`gpg --export\` writes them) encrypt share i to
  key i; -root-token-pgp-key the root token. Each key holder decrypts theirs:
      $ echo <key> | base64 -d | gpg -dq

  With -status, only reports whether the server is initialized:
  exit code 0 initialized, 2 not initialized, 1 error.`,
  flags: {
    "key-shares": { kind: "int", usage: `Number of key shares to split the root key into (default ${DEFAULT_KEY_SHARES}).`, aliases: ["n"] },
    "key-threshold": { kind: "int", usage: `Number of shares needed to unseal (default ${DEFAULT_KEY_THRESHOLD}).`, aliases: ["t"] },
    "recovery-shares": { kind: "int", usage: `Number of recovery key shares, with an auto-unseal seal (default ${DEFAULT_KEY_SHARES}).` },
    "recovery-threshold": {
      kind: "int",
      usage: `Number of recovery key shares needed to authorize, with an auto-unseal seal (default ${DEFAULT_KEY_THRESHOLD}).`,
    },
    "pgp-keys": { kind: "string", usage: "Files of PGP public keys, comma-separated, one per unseal key share.", placeholder: "file,…" },
    "recovery-pgp-keys": { kind: "string", usage: "Files of PGP public keys, comma-separated, one per recovery key share.", placeholder: "file,…" },
    "root-token-pgp-key": { kind: "string", usage: "File of a PGP public key to encrypt the root token to.", placeholder: "file" },
    status: { kind: "bool", usage: "Only print whether the server is initialized (exit 0 yes, 2 no)." },
    ...FORMAT_FLAG,
  },
  async run({ flags, args, format, client, out }) {
    expectArgs(args, 0, 0);
    const pgp = pgpKeyFields(flags);
    if (flags.status) {
      const { body } = await attempt("checking init status", () => client().request("GET", "sys/init"), EXIT_LOCAL_ERROR);
      const initialized = body?.initialized === true;
      out(format === "json" ? jsonText({ initialized }) : `Strongbox is ${initialized ? "" : "not "}initialized`);
      return initialized ? EXIT_OK : EXIT_REMOTE_ERROR;
    }

    // Which keys to ask for depends on the server's seal; a server that cannot say gets the Shamir request.
    const recoverySeal = await client()
      .request("GET", "sys/seal-status")
      .then(
        (status) => status.body?.recovery_seal === true,
        () => false,
      );
    if (recoverySeal) return printRecoveryInit(flags, await initRecovery(client(), flags, pgp), format, out);

    const shares = flags["key-shares"] ?? DEFAULT_KEY_SHARES;
    const threshold = flags["key-threshold"] ?? DEFAULT_KEY_THRESHOLD;
    const { body } = await attempt("initializing", () =>
      client().request("PUT", "sys/init", { body: { secret_shares: shares, secret_threshold: threshold, ...pgp } }),
    );
    const init = (body ?? {}) as InitResponse;
    const hexKeys = init.keys ?? [];
    const base64Keys = init.keys_base64 ?? [];

    if (format === "json") {
      // The shape of Vault's `operator init -format=json`, which scripts feed to jq.
      out(
        jsonText({
          unseal_keys_b64: base64Keys,
          unseal_keys_hex: hexKeys,
          unseal_shares: shares,
          unseal_threshold: threshold,
          recovery_keys_b64: [],
          recovery_keys_hex: [],
          recovery_keys_shares: 0,
          recovery_keys_threshold: 0,
          root_token: init.root_token ?? "",
        }),
      );
      return EXIT_OK;
    }

    const keys = base64Keys.length === hexKeys.length ? base64Keys : hexKeys;
    out(
      [
        ...keys.map((key, i) => `Unseal Key ${i + 1}: ${key}`),
        "",
        `Initial Root Token: ${init.root_token ?? ""}`,
        "",
        `Strongbox initialized with ${shares} key shares and a key threshold of ${threshold}.`,
        "Give each key share above to a different trusted person and store them apart.",
        `Whenever the server restarts or is sealed, ${threshold} of these shares are needed`,
        "to unseal it before it can serve requests.",
        "",
        "The server does not keep the root key: if fewer than",
        `${threshold} shares survive, the data can never be unsealed again.`,
      ].join("\n"),
    );
    return EXIT_OK;
  },
});

type InitFlags = { "recovery-shares"?: number; "recovery-threshold"?: number };

/** As Vault's CLI: each file read and base64-encoded, unless it already holds base64 text. */
function pgpKeyFields(flags: Record<string, unknown>): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  const files = (flag: string) =>
    typeof flags[flag] === "string" && flags[flag] !== "" ? (flags[flag] as string).split(",").map((file) => readPgpKeyFile(flag, file.trim())) : undefined;
  const keys = files("pgp-keys");
  if (keys) fields.pgp_keys = keys;
  const recoveryKeys = files("recovery-pgp-keys");
  if (recoveryKeys) fields.recovery_pgp_keys = recoveryKeys;
  const rootTokenKey = files("root-token-pgp-key");
  if (rootTokenKey) {
    if (rootTokenKey.length !== 1) throw new CliError("-root-token-pgp-key takes one file", EXIT_LOCAL_ERROR);
    fields.root_token_pgp_key = rootTokenKey[0]!;
  }
  return fields;
}

function readPgpKeyFile(flag: string, file: string): string {
  if (file.startsWith("keybase:"))
    throw new CliError(
      `-${flag}: "keybase:" keys are not supported (fetching them needs keybase.io); export the key with gpg --export and give the file`,
      EXIT_LOCAL_ERROR,
    );
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    throw new CliError(`-${flag}: cannot read ${file}: ${(error as Error).message}`, EXIT_LOCAL_ERROR);
  }
  const text = content.toString("latin1").trim();
  if (text.startsWith("-----BEGIN PGP"))
    throw new CliError(`-${flag}: ${file} is ASCII-armored; give the binary key (gpg --export without --armor)`, EXIT_LOCAL_ERROR);
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? text : content.toString("base64");
}

async function initRecovery(client: VaultClient, flags: InitFlags, pgp: Record<string, string | string[]>): Promise<InitResponse> {
  const body = {
    recovery_shares: flags["recovery-shares"] ?? DEFAULT_KEY_SHARES,
    recovery_threshold: flags["recovery-threshold"] ?? DEFAULT_KEY_THRESHOLD,
    ...pgp,
  };
  const { body: init } = await attempt("initializing", () => client.request("PUT", "sys/init", { body }));
  return (init ?? {}) as InitResponse;
}

/** Vault's output for an auto-unseal seal: recovery keys and the root token, no unseal keys. */
function printRecoveryInit(flags: InitFlags, init: InitResponse, format: OutputFormat, out: (text: string) => void): number {
  const shares = flags["recovery-shares"] ?? DEFAULT_KEY_SHARES;
  const threshold = flags["recovery-threshold"] ?? DEFAULT_KEY_THRESHOLD;
  const hexKeys = init.recovery_keys ?? [];
  const base64Keys = init.recovery_keys_base64 ?? [];
  if (format === "json") {
    out(
      jsonText({
        unseal_keys_b64: [],
        unseal_keys_hex: [],
        unseal_shares: 1,
        unseal_threshold: 1,
        recovery_keys_b64: base64Keys,
        recovery_keys_hex: hexKeys,
        recovery_keys_shares: shares,
        recovery_keys_threshold: threshold,
        root_token: init.root_token ?? "",
      }),
    );
    return EXIT_OK;
  }
  const keys = base64Keys.length === hexKeys.length ? base64Keys : hexKeys;
  out(
    [
      ...keys.map((key, i) => `Recovery Key ${i + 1}: ${key}`),
      "",
      `Initial Root Token: ${init.root_token ?? ""}`,
      "",
      "Success! Strongbox is initialized",
      "",
      `Recovery key initialized with ${shares} key shares and a key threshold of ${threshold}.`,
      "Give each recovery key share above to a different trusted person and store them apart.",
      "Every node unseals itself with the seal's KMS key; recovery keys cannot decrypt",
      `anything, they authorize operations such as unsealing after \`operator seal\` (${threshold} needed).`,
    ].join("\n"),
  );
  return EXIT_OK;
}

export const operatorUnsealCommand: Command = defineCommand({
  name: "operator unseal",
  synopsis: "Provide one unseal key share",
  usage: `
Usage: strongbox operator unseal [options] [KEY]

  Submits one unseal key share; once enough shares are in (the threshold), the
  server unseals. Prints the seal status.

  Without KEY, reads it from a hidden prompt on a terminal, or the first line of
  stdin otherwise (keeps the key out of shell history and the process list):

      $ strongbox operator unseal
      Unseal Key (will be hidden):

  -reset discards the shares submitted so far.

  -migrate marks the share as part of a seal migration: in seal migration mode
  (seal-status says "Seal Migration in Progress"), give the OLD seal's keys
  (Shamir unseal keys, or the auto seal's recovery keys), each with -migrate.`,
  flags: {
    reset: { kind: "bool", usage: "Discard the unseal key shares submitted so far." },
    migrate: { kind: "bool", usage: "Give the share for a seal migration (the old seal's key)." },
    ...FORMAT_FLAG,
  },
  async run({ flags, args, io, format, client }) {
    expectArgs(args, 0, 1);
    let status;
    if (flags.reset) {
      status = await attempt("resetting unseal progress", () => client().request("PUT", "sys/unseal", { body: { reset: true } }));
    } else {
      const key = (args[0] ?? (await readSecret(io, "Unseal Key (will be hidden): "))).trim();
      if (key === "") throw new CliError("no unseal key given", EXIT_LOCAL_ERROR);
      const body = flags.migrate ? { key, migrate: true } : { key };
      status = await attempt("unsealing", () => client().request("PUT", "sys/unseal", { body, secrets: [key] }));
    }
    const view = await attempt("checking leader status", () => sealStatusView(client(), status.body ?? {}));
    printSealStatus(io, format, view);
    return EXIT_OK;
  },
});

export const operatorSealCommand: Command = defineCommand({
  name: "operator seal",
  synopsis: "Seal the server",
  usage: `
Usage: strongbox operator seal [options]

  Seals the server: it forgets the root key and stops serving requests until it
  is unsealed again with enough key shares. In an HA cluster, sealing the active
  node lets a standby take over. Needs a token allowed to update sys/seal.`,
  flags: {},
  async run({ args, client, out }) {
    expectArgs(args, 0, 0);
    await attempt("sealing", () => client().request("PUT", "sys/seal"));
    out("Success! Strongbox is sealed.");
    return EXIT_OK;
  },
});
