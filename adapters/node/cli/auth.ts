/** `strongbox auth enable | disable | list`: auth methods at sys/auth. */
import { attempt, type Command, defineCommand, EXIT_OK, expectArgs, FORMAT_FLAG } from "./command.js";
import { jsonText, table } from "./output.js";

const withSlash = (path: string) => `${path.replace(/^\/+|\/+$/g, "")}/`;

export const authEnableCommand: Command = defineCommand({
  name: "auth enable",
  synopsis: "Enable an auth method",
  usage: `
Usage: strongbox auth enable [options] TYPE

  Enables an auth method of TYPE (userpass or approle) at -path, which defaults
  to the type's name.

      $ strongbox auth enable userpass
      $ strongbox auth enable -path=machines -description="CI jobs" approle`,
  flags: {
    path: { kind: "string", usage: "Where to enable the method (default: its type).", placeholder: "path" },
    description: { kind: "string", usage: "A human-readable description.", placeholder: "text" },
    "default-lease-ttl": { kind: "string", usage: "Default TTL of the tokens it issues, e.g. 1h.", placeholder: "duration" },
    "max-lease-ttl": { kind: "string", usage: "Maximum TTL of the tokens it issues.", placeholder: "duration" },
  },
  async run({ flags, args, client, out }) {
    expectArgs(args, 1, 1);
    const type = args[0]!;
    const path = withSlash(flags.path ?? type);
    const config = { default_lease_ttl: flags["default-lease-ttl"], max_lease_ttl: flags["max-lease-ttl"] };
    await attempt(`enabling ${type} auth method at ${path}`, () =>
      client().request("POST", `sys/auth/${path}`, { body: { type, description: flags.description ?? "", config } }),
    );
    out(`Success! Enabled ${type} auth method at: ${path}`);
    return EXIT_OK;
  },
});

export const authDisableCommand: Command = defineCommand({
  name: "auth disable",
  synopsis: "Disable an auth method",
  usage: `
Usage: strongbox auth disable [options] PATH

  Disables the auth method at PATH. Every token it issued is revoked and its
  users, roles and secret IDs are deleted.`,
  flags: {},
  async run({ args, client, out }) {
    expectArgs(args, 1, 1);
    const path = withSlash(args[0]!);
    await attempt(`disabling auth method at ${path}`, () => client().request("DELETE", `sys/auth/${path}`));
    out(`Success! Disabled the auth method (if it existed) at: ${path}`);
    return EXIT_OK;
  },
});

export const authListCommand: Command = defineCommand({
  name: "auth list",
  synopsis: "List the enabled auth methods",
  usage: `
Usage: strongbox auth list [options]

  Lists the enabled auth methods: path, type, accessor and description.`,
  flags: { ...FORMAT_FLAG },
  async run({ args, format, client, out }) {
    expectArgs(args, 0, 0);
    const { body } = await attempt("listing auth methods", () => client().request("GET", "sys/auth"));
    const methods: Record<string, any> = body?.data ?? {};
    if (format === "json") {
      out(jsonText(methods));
      return EXIT_OK;
    }
    const rows = Object.keys(methods)
      .sort()
      .map((path) => [path, String(methods[path].type ?? ""), String(methods[path].accessor ?? ""), String(methods[path].description ?? "")]);
    out(table(["Path", "Type", "Accessor", "Description"], rows));
    return EXIT_OK;
  },
});
