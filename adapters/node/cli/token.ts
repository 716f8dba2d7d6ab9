/** `strongbox token create | lookup | revoke`: the token auth method at auth/token. */
import { UsageError } from "./flags.js";
import { attempt, type Command, defineCommand, EXIT_OK, expectArgs, FIELD_FLAG, FORMAT_FLAG } from "./command.js";
import { printSecret } from "./secret-output.js";

export const tokenCreateCommand: Command = defineCommand({
  name: "token create",
  synopsis: "Create a token",
  usage: `
Usage: strongbox token create [options]

  Creates a token, by default a child of the calling token (revoked with it)
  carrying the caller's policies.

      $ strongbox token create -policy=app-read -ttl=1h
      $ strongbox token create -orphan -period=24h -policy=agent`,
  flags: {
    policy: { kind: "list", usage: "A policy for the token (repeatable); default: the caller's.", placeholder: "name" },
    ttl: { kind: "string", usage: "Initial TTL, e.g. 30m.", placeholder: "duration" },
    "explicit-max-ttl": { kind: "string", usage: "Hard limit on the token's lifetime, renewals included.", placeholder: "duration" },
    period: { kind: "string", usage: "Make a periodic token renewed by this much each time (needs sudo).", placeholder: "duration" },
    orphan: { kind: "bool", usage: "Create a token without a parent (auth/token/create-orphan)." },
    "no-default-policy": { kind: "bool", usage: "Do not attach the default policy." },
    "use-limit": { kind: "int", usage: "Number of uses after which the token is revoked (0: unlimited)." },
    renewable: { kind: "bool", usage: "Whether the token can be renewed (default true)." },
    "display-name": { kind: "string", usage: "Name shown for the token (prefixed with token-).", placeholder: "name" },
    metadata: { kind: "list", usage: "key=value metadata (repeatable).", placeholder: "k=v" },
    id: { kind: "string", usage: "The token's value (needs sudo).", placeholder: "token" },
    ...FORMAT_FLAG,
    ...FIELD_FLAG,
  },
  async run({ flags, args, io, format, client }) {
    expectArgs(args, 0, 0);
    const meta: Record<string, string> = {};
    for (const pair of flags.metadata) {
      const equals = pair.indexOf("=");
      if (equals <= 0) throw new UsageError(`-metadata ${JSON.stringify(pair)} is not key=value`);
      meta[pair.slice(0, equals)] = pair.slice(equals + 1);
    }
    const request = {
      policies: flags.policy.length > 0 ? flags.policy.flatMap((p) => p.split(",")).map((p) => p.trim()) : undefined,
      ttl: flags.ttl,
      explicit_max_ttl: flags["explicit-max-ttl"],
      period: flags.period,
      no_default_policy: flags["no-default-policy"],
      num_uses: flags["use-limit"],
      renewable: flags.renewable,
      display_name: flags["display-name"],
      meta: flags.metadata.length > 0 ? meta : undefined,
      id: flags.id,
    };
    const path = flags.orphan ? "auth/token/create-orphan" : "auth/token/create";
    const { body } = await attempt("creating token", () => client().request("POST", path, { body: request }));
    return printSecret(io, format, body, flags.field);
  },
});

export const tokenLookupCommand: Command = defineCommand({
  name: "token lookup",
  synopsis: "Show a token's properties",
  usage: `
Usage: strongbox token lookup [options] [TOKEN]

  Shows the properties of TOKEN, of the token with -accessor, or of the calling
  token when neither is given.`,
  flags: { accessor: { kind: "bool", usage: "The argument is an accessor, not a token." }, ...FORMAT_FLAG, ...FIELD_FLAG },
  async run({ flags, args, io, format, client }) {
    expectArgs(args, flags.accessor ? 1 : 0, 1);
    const [value] = args;
    const request = () => {
      if (flags.accessor) return client().request("POST", "auth/token/lookup-accessor", { body: { accessor: value } });
      if (value !== undefined) return client().request("POST", "auth/token/lookup", { body: { token: value }, secrets: [value] });
      return client().request("GET", "auth/token/lookup-self");
    };
    const { body } = await attempt("looking up token", request);
    return printSecret(io, format, body, flags.field);
  },
});

export const tokenRevokeCommand: Command = defineCommand({
  name: "token revoke",
  synopsis: "Revoke a token",
  usage: `
Usage: strongbox token revoke [options] [TOKEN]

  Revokes TOKEN (or the token with -accessor, or the calling token with -self)
  and, unless -mode=orphan (which needs sudo), every token created from it.`,
  flags: {
    accessor: { kind: "bool", usage: "The argument is an accessor, not a token." },
    self: { kind: "bool", usage: "Revoke the calling token." },
    mode: { kind: "string", usage: 'Set to "orphan" to keep the token\'s children (as orphans).', placeholder: "orphan" },
  },
  async run({ flags, args, client, out }) {
    expectArgs(args, flags.self ? 0 : 1, flags.self ? 0 : 1);
    if (flags.mode !== undefined && flags.mode !== "" && flags.mode !== "orphan")
      throw new UsageError(`unsupported -mode ${JSON.stringify(flags.mode)} (only "orphan")`);
    if (flags.self && (flags.accessor || flags.mode)) throw new UsageError("-self cannot be combined with -accessor or -mode");
    if (flags.accessor && flags.mode) throw new UsageError("-accessor cannot be combined with -mode");
    const [value] = args;
    await attempt("revoking token", () => {
      if (flags.self) return client().request("POST", "auth/token/revoke-self");
      if (flags.accessor) return client().request("POST", "auth/token/revoke-accessor", { body: { accessor: value } });
      const path = flags.mode === "orphan" ? "auth/token/revoke-orphan" : "auth/token/revoke";
      return client().request("POST", path, { body: { token: value }, secrets: [value!] });
    });
    out("Success! Revoked token (if it existed)");
    return EXIT_OK;
  },
});
