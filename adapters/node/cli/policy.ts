/** `strongbox policy write | read | list | delete`: ACL policies at sys/policies/acl. */
import { readFileSync } from "node:fs";
import { UsageError } from "./flags.js";
import { attempt, CliError, type Command, defineCommand, EXIT_OK, EXIT_REMOTE_ERROR, expectArgs, FORMAT_FLAG } from "./command.js";
import { readAll } from "./input.js";
import { jsonText } from "./output.js";

export const policyWriteCommand: Command = defineCommand({
  name: "policy write",
  synopsis: "Upload a policy from a file or stdin",
  usage: `
Usage: strongbox policy write [options] NAME PATH

  Uploads the HCL or JSON policy in PATH (or stdin when PATH is "-") under NAME,
  replacing a policy of that name.

      $ strongbox policy write app-read app-read.hcl
      $ cat app-read.hcl | strongbox policy write app-read -`,
  flags: {},
  async run({ args, io, client, out }) {
    expectArgs(args, 2, 2);
    const [name, source] = args as [string, string];
    let policy: string;
    try {
      policy = source === "-" ? await readAll(io.stdin) : readFileSync(source, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read policy file ${source}: ${(error as Error).message}`);
    }
    await attempt(`uploading policy ${name}`, () => client().request("PUT", `sys/policies/acl/${name}`, { body: { policy } }));
    out(`Success! Uploaded policy: ${name}`);
    return EXIT_OK;
  },
});

export const policyReadCommand: Command = defineCommand({
  name: "policy read",
  synopsis: "Print a policy",
  usage: `
Usage: strongbox policy read [options] NAME

  Prints the text of the policy NAME as it was uploaded.`,
  flags: { ...FORMAT_FLAG },
  async run({ args, format, client, out }) {
    expectArgs(args, 1, 1);
    const name = args[0]!;
    const { status, body } = await attempt(`reading policy ${name}`, () => client().request("GET", `sys/policies/acl/${name}`, { accept: [404] }));
    if (status === 404) throw new CliError(`no policy named: ${name}`, EXIT_REMOTE_ERROR);
    out(format === "json" ? jsonText(body?.data ?? {}) : String(body?.data?.policy ?? "").replace(/\n$/, ""));
    return EXIT_OK;
  },
});

export const policyListCommand: Command = defineCommand({
  name: "policy list",
  synopsis: "List the policies",
  usage: `
Usage: strongbox policy list [options]

  Lists the names of the policies, one a line.`,
  flags: { ...FORMAT_FLAG },
  async run({ args, format, client, out }) {
    expectArgs(args, 0, 0);
    const { body } = await attempt("listing policies", () => client().request("GET", "sys/policies/acl", { query: { list: "true" } }));
    const keys: string[] = Array.isArray(body?.data?.keys) ? body.data.keys.map(String) : [];
    out(format === "json" ? jsonText(keys) : keys.join("\n"));
    return EXIT_OK;
  },
});

export const policyDeleteCommand: Command = defineCommand({
  name: "policy delete",
  synopsis: "Delete a policy",
  usage: `
Usage: strongbox policy delete [options] NAME

  Deletes the policy NAME. Tokens that carry it keep the name but lose what it
  granted. The built-in "default" and "root" policies cannot be deleted.`,
  flags: {},
  async run({ args, client, out }) {
    expectArgs(args, 1, 1);
    const name = args[0]!;
    await attempt(`deleting policy ${name}`, () => client().request("DELETE", `sys/policies/acl/${name}`));
    out(`Success! Deleted policy: ${name}`);
    return EXIT_OK;
  },
});
