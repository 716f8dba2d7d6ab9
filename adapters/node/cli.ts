#!/usr/bin/env node
/** The `strongbox` executable: `server` starts a node, everything else is a client command. */
import { homedir } from "node:os";
import { runCli } from "./cli/index.js";

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "server") {
    // Loaded only when needed, so client commands start fast.
    const { runServer } = await import("./server/server.js");
    return runServer(argv.slice(1));
  }
  return runCli(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, homeDir: homedir() });
}

// exitCode rather than exit(): lets piped stdout finish writing.
process.exitCode = await main(process.argv.slice(2));
