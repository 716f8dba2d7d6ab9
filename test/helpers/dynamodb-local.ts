import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { stopChild, waitUntilAnswering } from "./child-process.js";
import { freePort } from "./free-port.js";

export interface RunningDynamoDBLocal {
  /** e.g. "http://127.0.0.1:41234" */
  endpoint: string;
  /** Its working folder (it writes dynamodb-local-metadata.json there); removed by stop(). */
  workDir: string;
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local (in memory, one shared database for every credential and region) on a
 * free loopback port and resolves once it answers. Needs Java 17+ on PATH. It runs in a temporary
 * folder because it writes a metadata file into its working directory, which would otherwise be
 * the repository.
 */
export async function startDynamoDBLocal(): Promise<RunningDynamoDBLocal> {
  const emulator = join(dirname(createRequire(import.meta.url).resolve("amplify-dynamodb-simulator/package.json")), "emulator");
  const workDir = await mkdtemp(join(tmpdir(), "dynamodb-local-"));
  const removeWorkDir = () => rm(workDir, { recursive: true, force: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      "java",
      [
        `-Djava.library.path=${join(emulator, "DynamoDBLocal_lib")}`,
        "-jar",
        join(emulator, "DynamoDBLocal.jar"),
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        String(port),
      ],
      { cwd: workDir, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      // Any HTTP answer (it says 400 to a bare GET) means it is up.
      await waitUntilAnswering(endpoint, child, "java");
      return { endpoint, workDir, stop: () => stopChild(child).then(removeWorkDir) };
    } catch (error) {
      await stopChild(child);
      // Someone else may have taken the port between freePort() and the JVM binding it.
      if (attempt < 3 && /Address already in use|BindException/.test(output)) continue;
      await removeWorkDir();
      throw new Error(`DynamoDB Local did not start: ${(error as Error).message}\n${output}`);
    }
  }
}
