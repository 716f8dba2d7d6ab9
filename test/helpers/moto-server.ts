import { spawn } from "node:child_process";
import { stopChild, waitUntilAnswering } from "./child-process.js";
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
      await Promise.race([waitUntilAnswering(`${endpoint}/moto-api/`, child, "python3"), spawnError.then((error) => Promise.reject(error))]);
      return { endpoint, stop: () => stopChild(child) };
    } catch (error) {
      await stopChild(child);
      if (attempt < 3 && /Address already in use/.test(output)) continue;
      const missing = /No module named|ENOENT/.test(`${output} ${(error as Error).message}`);
      throw new Error(`${missing ? MOTO_INSTALL_HINT : "moto's server did not start"}: ${(error as Error).message}\n${output}`);
    }
  }
}
