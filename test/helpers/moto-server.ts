import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "./free-port.js";

export interface RunningMotoServer {
  /** e.g. "http://127.0.0.1:41235": every AWS service moto emulates (KMS on the JSON protocol at "/"). */
  endpoint: string;
  stop(): Promise<void>;
}

export const MOTO_INSTALL_HINT = "moto's server is needed for the KMS tests: pip install 'moto[server]' (Python moto 5.x, run as `python3 -m moto.server`)";

/** Starts `python3 -m moto.server` on a free loopback port and resolves once it answers. */
export async function startMotoServer(python = "python3"): Promise<RunningMotoServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      await Promise.race([waitUntilAnswering(endpoint, child), spawnError.then((error) => Promise.reject(error))]);
      return { endpoint, stop: () => stopChild(child) };
    } catch (error) {
      await stopChild(child);
      if (attempt < 3 && /Address already in use/.test(output)) continue;
      const missing = /No module named|ENOENT/.test(`${output} ${(error as Error).message}`);
      throw new Error(`${missing ? MOTO_INSTALL_HINT : "moto's server did not start"}: ${(error as Error).message}\n${output}`);
    }
  }
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`python3 exited with code ${child.exitCode}`);
    try {
      await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error("no answer within 30 s");
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
