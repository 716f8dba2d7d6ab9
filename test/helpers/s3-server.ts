import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface RunningS3Server {
  /** e.g. "http://127.0.0.1:41235"; use path-style addressing (s3_force_path_style). */
  endpoint: string;
  /** A bucket that exists. */
  bucket: string;
  /** s3rver accepts any signature; these are as good as any. */
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

/** Starts s3rver in a child process on a free loopback port, storing into a temp directory. */
export async function startS3Server(bucket = "strongbox-test"): Promise<RunningS3Server> {
  const directory = await mkdtemp(join(tmpdir(), "strongbox-s3-"));
  const script = fileURLToPath(new URL("./s3rver-process.mjs", import.meta.url));
  const child = spawn(process.execPath, ["--no-deprecation", script, directory, bucket], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk;
      const line = output.split("\n")[0];
      if (output.includes("\n")) resolve((JSON.parse(line!) as { port: number }).port);
    });
    child.once("exit", (code) => reject(new Error(`s3rver exited with code ${code} before listening`)));
    child.once("error", reject);
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKey: "S3RVER",
    secretKey: "S3RVER",
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise((resolve) => {
          child.once("exit", resolve);
          child.kill("SIGTERM");
        });
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
