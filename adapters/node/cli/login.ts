/**
 * `strongbox login`: authenticate and keep the token in `~/.vault-token` (mode 0600), where every
 * client command (and Vault's own CLI) looks for it.
 *
 *     strongbox login [TOKEN | -]                                    the token method
 *     strongbox login -method=userpass username=U [password=P]       prompts for a missing password
 *     strongbox login -method=approle role_id=R secret_id=S
 *     strongbox login -method=jwt [role=R] jwt=TOKEN                 also -method=kubernetes (role needed)
 *     strongbox login -method=aws [role=R] [header_value=V] [region=R]  signs with the AWS credential chain
 *     strongbox login -method=cert [name=N]                           with -client-cert and -client-key
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "./flags.js";
import { VaultClient } from "./client.js";
import { attempt, CliError, type CliIO, type Command, defineCommand, EXIT_LOCAL_ERROR, EXIT_OK, FIELD_FLAG, FORMAT_FLAG } from "./command.js";
import { readLine, readSecret } from "./input.js";
import { parseKvData } from "./kv.js";
import { printSecret } from "./secret-output.js";
import { awsLoginBody } from "./aws-login.js";

const TOKEN_FILE = ".vault-token";

export const loginCommand: Command = defineCommand({
  name: "login",
  synopsis: "Authenticate and store the token for later commands",
  usage: `
Usage: strongbox login [options] [TOKEN | KEY=VALUE...]

  Authenticates with an auth method and stores the token in ~/.vault-token,
  where later commands find it.

  With a token (prompted for on a terminal when omitted; "-" reads stdin):

      $ strongbox login hvs.XXXXXXXX

  With userpass (the password is prompted for when not given):

      $ strongbox login -method=userpass username=alice

  With AppRole:

      $ strongbox login -method=approle role_id=... secret_id=...

  With a signed JWT (jwt, or kubernetes with a service account token):

      $ strongbox login -method=jwt role=deploy jwt=eyJ...
      $ strongbox login -method=kubernetes role=app jwt=@/var/run/secrets/kubernetes.io/serviceaccount/token

  With AWS IAM credentials (the AWS SDK's default chain, or aws_access_key_id=...
  aws_secret_access_key=...), optionally naming the role and the server ID header:

      $ strongbox login -method=aws role=dev header_value=vault.example.com

  With a TLS client certificate (optionally naming the trusted certificate entry):

      $ strongbox login -method=cert -client-cert=client.pem -client-key=client-key.pem name=web`,
  flags: {
    method: { kind: "string", usage: "Auth method: token (default), userpass, approle, jwt, kubernetes, aws or cert.", placeholder: "type" },
    path: { kind: "string", usage: "Where the auth method is enabled (default: the method's name).", placeholder: "path" },
    "no-store": { kind: "bool", usage: "Do not store the token in ~/.vault-token." },
    "token-only": { kind: "bool", usage: "Print only the token (implies -no-store)." },
    ...FORMAT_FLAG,
    ...FIELD_FLAG,
  },
  async run({ flags, args, io, format, client }) {
    const method = flags.method ?? "token";
    const mount = (flags.path ?? method).replace(/^\/+|\/+$/g, "");
    let body: any;
    if (method === "token") {
      if (args.length > 1) throw new UsageError("too many arguments (expected at most a token)");
      const token = await tokenArgument(io, args[0]);
      // Check the token works before storing it, as Vault's CLI does.
      const withToken = new VaultClient({ ...client().config, token });
      const lookup = await attempt("looking up the token", () => withToken.request("GET", "auth/token/lookup-self", { secrets: [token] }));
      const data = lookup.body?.data ?? {};
      body = {
        ...lookup.body,
        data: null,
        auth: {
          client_token: token,
          accessor: data.accessor,
          lease_duration: data.ttl,
          renewable: data.renewable,
          token_policies: data.policies,
          policies: data.policies,
          metadata: data.meta ?? {},
        },
      };
    } else {
      const data = await parseKvData(args, () => readLine(io.stdin));
      const request = await loginRequest(io, method, mount, data, client().config.tls.cert !== undefined);
      body = (await attempt(`logging in with ${method}`, () => client().request("POST", request.path, { body: request.body, secrets: request.secrets }))).body;
    }
    const token: string | undefined = body?.auth?.client_token;
    if (!token) throw new CliError("the server returned no token", EXIT_LOCAL_ERROR);
    if (flags["token-only"]) {
      io.stdout.write(io.stdout.isTTY ? `${token}\n` : token);
      return EXIT_OK;
    }
    if (!flags["no-store"]) storeToken(io.homeDir, token);
    if (io.env.VAULT_TOKEN) {
      io.stderr.write(
        "WARNING! The VAULT_TOKEN environment variable is set! It takes precedence over the\ntoken stored by this command; unset it to use the new token.\n\n",
      );
    }
    if (flags.field === undefined && format === "table") {
      io.stdout.write(
        flags["no-store"]
          ? "Success! You are now authenticated. The token was not stored (-no-store); pass it\nin VAULT_TOKEN to use it.\n\n"
          : 'Success! You are now authenticated. The token information displayed below is\nalready stored in the token helper. You do NOT need to run "strongbox login"\nagain. Future requests will automatically use this token.\n\n',
      );
    }
    return printSecret(io, format, body, flags.field);
  },
});

/** Writes the token where Vault's CLI keeps it, readable by the owner only. */
export function storeToken(homeDir: string, token: string): void {
  const path = join(homeDir, TOKEN_FILE);
  try {
    writeFileSync(path, token, { mode: 0o600 });
    chmodSync(path, 0o600); // an existing file keeps its mode on write
  } catch (error) {
    throw new CliError(`cannot store the token in ${path}: ${(error as Error).message}`, EXIT_LOCAL_ERROR);
  }
}

async function tokenArgument(io: CliIO, arg: string | undefined): Promise<string> {
  const token = (arg === undefined ? await readSecret(io, "Token (will be hidden): ") : arg === "-" ? await readLine(io.stdin) : arg).trim();
  if (!token) throw new UsageError("no token given");
  return token;
}

async function loginRequest(
  io: CliIO,
  method: string,
  mount: string,
  data: Record<string, unknown>,
  hasClientCertificate: boolean,
): Promise<{ path: string; body: Record<string, unknown>; secrets: string[] }> {
  switch (method) {
    case "userpass": {
      const { username, ...rest } = data;
      if (typeof username !== "string" || username === "") throw new UsageError("userpass needs username=NAME");
      const password = typeof rest.password === "string" ? rest.password : await readSecret(io, "Password (will be hidden): ");
      return { path: `auth/${mount}/login/${username}`, body: { ...rest, password }, secrets: [password] };
    }
    case "approle": {
      if (typeof data.role_id !== "string" || data.role_id === "")
        throw new UsageError("approle needs role_id=ID (and secret_id=ID unless the role does not bind one)");
      return { path: `auth/${mount}/login`, body: data, secrets: typeof data.secret_id === "string" ? [data.secret_id] : [] };
    }
    case "jwt":
    case "kubernetes": {
      if (typeof data.jwt !== "string" || data.jwt.trim() === "") throw new UsageError(`${method} needs jwt=TOKEN (or jwt=@FILE)`);
      if (method === "kubernetes" && (typeof data.role !== "string" || data.role === "")) throw new UsageError("kubernetes needs role=NAME");
      const jwt = data.jwt.trim();
      return { path: `auth/${mount}/login`, body: { ...data, jwt }, secrets: [jwt] };
    }
    case "aws":
      return { path: `auth/${mount}/login`, ...(await awsLoginBody(data, io.env)) };
    case "cert":
      if (!hasClientCertificate) throw new UsageError("cert needs a client certificate: -client-cert and -client-key (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY)");
      return { path: `auth/${mount}/login`, body: data, secrets: [] };
    default:
      throw new UsageError(`unknown auth method ${JSON.stringify(method)} (use token, userpass, approle, jwt, kubernetes, aws or cert)`);
  }
}
