/** `strongbox status`: seal and HA state. Exit codes as Vault's: 0 unsealed, 2 sealed, 1 error. */
import { ApiError, type VaultClient } from "./client.js";
import {
  attempt,
  type CliIO,
  type Command,
  defineCommand,
  EXIT_LOCAL_ERROR,
  EXIT_OK,
  EXIT_REMOTE_ERROR,
  expectArgs,
  FIELD_FLAG,
  FORMAT_FLAG,
  type OutputFormat,
  printField,
} from "./command.js";
import { jsonText, type SealStatusView, sealStatusTable } from "./output.js";

export const statusCommand: Command = defineCommand({
  name: "status",
  synopsis: "Print seal and HA status",
  usage: `
Usage: strongbox status [options]

  Prints whether the server is initialized and sealed, its unseal progress and,
  when HA is enabled, whether it is the active node or a standby (and which node
  is active). Needs no token.

  Exit code: 0 unsealed, 2 sealed, 1 error (so 2 is free to mean "sealed").`,
  flags: { ...FORMAT_FLAG, ...FIELD_FLAG },
  async run({ flags, args, io, format, client }) {
    expectArgs(args, 0, 0);
    const view = await attempt(
      "checking seal status",
      async () => sealStatusView(client(), (await client().request("GET", "sys/seal-status")).body),
      EXIT_LOCAL_ERROR,
    );
    const code = view.sealed ? EXIT_REMOTE_ERROR : EXIT_OK;
    if (flags.field !== undefined) {
      printField(io, format, (view as Record<string, unknown>)[flags.field], flags.field, "seal status");
      return code;
    }
    printSealStatus(io, format, view);
    return code;
  },
});

/** Adds `sys/leader` to a seal status, as Vault's CLI shows both in one table. */
export async function sealStatusView(client: VaultClient, sealStatus: SealStatusView): Promise<SealStatusView> {
  let leader: SealStatusView;
  try {
    leader = (await client.request("GET", "sys/leader")).body ?? {};
  } catch (error) {
    // A sealed node cannot answer sys/leader; like Vault's CLI, assume HA (its rows are hidden while sealed).
    if (!(error instanceof ApiError && error.errors.some((message) => message.includes("sealed")))) throw error;
    leader = { ha_enabled: true };
  }
  const { ha_enabled, is_self, active_time, leader_address, leader_cluster_address } = leader;
  return { ...sealStatus, ha_enabled, is_self, active_time, leader_address, leader_cluster_address };
}

export function printSealStatus(io: CliIO, format: OutputFormat, view: SealStatusView): void {
  io.stdout.write(`${format === "json" ? jsonText(view) : sealStatusTable(view)}\n`);
}
