/** `strongbox operator generate-root`: a new root token from a threshold of operator key shares. */
import { randomBase62 } from "../../../src/sdk/encoding.js";
import { decodeWithOtp, ROOT_TOKEN_OTP_LENGTH } from "../../../src/seal/generate-root.js";
import { attempt, CliError, type Command, defineCommand, EXIT_LOCAL_ERROR, EXIT_OK, expectArgs, FORMAT_FLAG } from "./command.js";
import { readSecret } from "./input.js";
import { jsonText, mapTable } from "./output.js";

export const operatorGenerateRootCommand: Command = defineCommand({
  name: "operator generate-root",
  synopsis: "Generate a new root token from a threshold of key shares",
  usage: `
Usage: strongbox operator generate-root [options] [KEY]

  Generates a new root token when a quorum of key holders agree: unseal keys,
  or recovery keys with an auto-unseal seal. Start an attempt; the server
  makes a one-time password (OTP), shown once:

      $ strongbox operator generate-root -init

  Each key holder then gives one share (KEY, or a hidden prompt / stdin):

      $ strongbox operator generate-root

  The last share returns the encoded token; decode it with the OTP:

      $ strongbox operator generate-root -decode=ENCODED -otp=OTP

  To choose the OTP yourself (Vault's CLI flow), make one and start with it:

      $ strongbox operator generate-root -generate-otp
      $ strongbox operator generate-root -init -otp=OTP

  -status shows the attempt's progress, -cancel discards it.`,
  flags: {
    init: { kind: "bool", usage: "Start a root token generation attempt." },
    otp: { kind: "string", usage: "With -init: use this OTP (28 characters) instead of the server's. With -decode: the attempt's OTP." },
    decode: { kind: "string", usage: `Decode this encoded token with -otp and print the root token ("-" reads it from stdin). Needs no server.` },
    "generate-otp": { kind: "bool", usage: "Print a new random OTP for -init -otp. Needs no server." },
    nonce: { kind: "string", usage: "The attempt's nonce (default: the one the server reports)." },
    status: { kind: "bool", usage: "Print the current attempt's progress." },
    cancel: { kind: "bool", usage: "Discard the current attempt and the shares given." },
    ...FORMAT_FLAG,
  },
  async run({ flags, args, io, format, client, out }) {
    const print = (body: Record<string, unknown>) => out(format === "json" ? jsonText(body) : mapTable(body));
    if (flags["generate-otp"]) {
      expectArgs(args, 0, 0);
      out(randomBase62(ROOT_TOKEN_OTP_LENGTH));
      return EXIT_OK;
    }
    if (flags.decode !== undefined) {
      expectArgs(args, 0, 0);
      if (!flags.otp) throw new CliError("-decode needs -otp: the OTP the attempt was started with", EXIT_LOCAL_ERROR);
      const encoded = flags.decode === "-" ? await readSecret(io, "Encoded token: ") : flags.decode;
      try {
        out(decodeWithOtp(encoded, flags.otp));
      } catch (error) {
        throw new CliError((error as Error).message, EXIT_LOCAL_ERROR);
      }
      return EXIT_OK;
    }
    if (flags.cancel) {
      expectArgs(args, 0, 0);
      await attempt("cancelling root token generation", () => client().request("DELETE", "sys/generate-root/attempt"));
      out("Success! Root token generation canceled (if it was started)");
      return EXIT_OK;
    }
    if (flags.status || flags.init) {
      expectArgs(args, 0, 0);
      const response = flags.init
        ? await attempt("starting root token generation", () =>
            client().request("PUT", "sys/generate-root/attempt", { body: flags.otp ? { otp: flags.otp } : {} }),
          )
        : await attempt("reading root token generation status", () => client().request("GET", "sys/generate-root/attempt"));
      print(response.body ?? {});
      return EXIT_OK;
    }
    expectArgs(args, 0, 1);
    const nonce =
      flags.nonce ?? (await attempt("reading root token generation status", () => client().request("GET", "sys/generate-root/attempt"))).body?.nonce;
    if (!nonce) throw new CliError("no root token generation in progress; start one with -init", EXIT_LOCAL_ERROR);
    const key = (args[0] === undefined || args[0] === "-" ? await readSecret(io, "Key share (will be hidden): ") : args[0]).trim();
    if (key === "") throw new CliError("no key share given", EXIT_LOCAL_ERROR);
    const response = await attempt("giving a key share", () => client().request("PUT", "sys/generate-root/update", { body: { key, nonce }, secrets: [key] }));
    print(response.body ?? {});
    return EXIT_OK;
  },
});
