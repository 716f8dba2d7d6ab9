#!/usr/bin/env node
/** `npm start`: a local 3-node HA cluster (see launcher.ts). Exit 0 after Ctrl-C/SIGTERM, 1 on failure. */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, UsageError } from "../../adapters/node/cli/flags.js";
import { checkStateDirIsFree, LauncherError, LocalCluster } from "./launcher.js";
import { NodeStartError } from "./node-process.js";
import { prepareStateDir, StateDirError } from "./state-dir.js";

/** In the repository, next to dist/: .state/ is git-ignored. */
const DEFAULT_STATE_DIR = fileURLToPath(new URL("../../../.state/local-cluster", import.meta.url));
const DEFAULT_BASE_PORT = 8200;

const FLAGS = {
  fresh: { kind: "bool", usage: "Wipe the state folder first: a new cluster, new keys, no data" },
  "state-dir": { kind: "string", usage: "Where the cluster's data, keys, configs and logs live" },
  "base-port": { kind: "int", usage: "First node's API port; node N uses base+2(N-1) and the next port for cluster traffic; 0 = any free ports" },
  help: { kind: "bool", usage: "Show this help", aliases: ["h"] },
} as const;

const USAGE = `Usage: npm start -- [--fresh] [--state-dir DIR] [--base-port N]
       node dist/tools/local-cluster/index.js [same options]

Runs a local highly available Strongbox cluster: 3 strongbox server processes, their data in an
embedded S3 server and their HA lock in an embedded DynamoDB-compatible server (dynalite), all on
127.0.0.1. The first run initialises the cluster and keeps the unseal keys in the state folder;
later runs unseal from them.

  --fresh          ${FLAGS.fresh.usage}
  --state-dir DIR  ${FLAGS["state-dir"].usage} (default ${DEFAULT_STATE_DIR})
  --base-port N    ${FLAGS["base-port"].usage} (default ${DEFAULT_BASE_PORT}; taken ports are swapped for free ones)
`;

async function main(argv: string[]): Promise<number> {
  let flags: ReturnType<typeof parseArgs<typeof FLAGS>>["flags"];
  try {
    flags = parseArgs(argv, FLAGS).flags;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`Error: ${error.message}\n\n${USAGE}`);
    return 1;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const basePort = flags["base-port"] ?? DEFAULT_BASE_PORT;
  if (basePort !== 0 && (basePort < 1024 || basePort > 65535 - 6)) {
    process.stderr.write(`Error: --base-port must be 0 or between 1024 and ${65535 - 6}\n`);
    return 1;
  }

  let cluster: LocalCluster;
  try {
    const paths = await prepareStateDir(resolve(flags["state-dir"] ?? DEFAULT_STATE_DIR), flags.fresh ?? false);
    await checkStateDirIsFree(paths);
    cluster = new LocalCluster(paths, { basePort, out: process.stdout });
  } catch (error) {
    if (error instanceof StateDirError || error instanceof LauncherError) {
      process.stderr.write(`Error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }

  // Handlers stay for the whole run: under `npm start` a Ctrl-C arrives twice (from the terminal
  // and forwarded by npm), and the second must not kill the launcher halfway through stopping.
  const stopRequested = new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => resolve());
    // Output closed (`npm start | head`, a terminal gone): nobody is watching; stop as on SIGPIPE.
    process.stdout.on("error", () => resolve());
  });
  // Should the launcher die of a bug, its nodes die with it rather than serve on without storage.
  process.on("exit", () => cluster.killNodes());
  const started = cluster.start().then(
    () => null,
    (error: unknown) => error,
  );
  const failure = await Promise.race([started, stopRequested.then(() => null)]);
  if (failure === null) await stopRequested;
  await cluster.stop();
  if (failure !== null) {
    process.stderr.write(`Error: ${describeFailure(failure)}\n`);
    return 1;
  }
  process.stdout.write("==> Stopped: every node and the embedded servers have exited; the state folder is kept (--fresh starts over)\n");
  return 0;
}

function describeFailure(error: unknown): string {
  if (error instanceof NodeStartError) {
    return `${error.message}${error.logTail ? `; the end of its log:\n${error.logTail.replace(/^/gm, "    ")}` : ""}`;
  }
  if (error instanceof LauncherError) return error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

process.exitCode = await main(process.argv.slice(2));
