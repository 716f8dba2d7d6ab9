import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopChild, waitUntilAnswering } from "./child-process.js";
import { freePort } from "./free-port.js";

export const ETCD_BINARY = "/usr/bin/etcd";

export interface RunningEtcd {
  /** The client URL, e.g. "http://127.0.0.1:41237" (v3 JSON gateway at /v3/…). */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts a single-member etcd (Debian's etcd-server, 3.4) on free loopback ports with its data in
 * a temporary folder, and resolves once its v3 gateway answers.
 */
export async function startEtcd(): Promise<RunningEtcd> {
  const dataDir = await mkdtemp(join(tmpdir(), "etcd-"));
  const removeDataDir = () => rm(dataDir, { recursive: true, force: true });
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const child = spawn(
      ETCD_BINARY,
      [
        "--name", "test",
        "--data-dir", join(dataDir, `member-${attempt}`),
        "--listen-client-urls", client,
        "--advertise-client-urls", client,
        "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer,
        "--initial-cluster", `test=${peer}`,
        "--log-level", "warn",
      ],
      // etcd refuses to run on an unsupported architecture unless told; harmless on amd64.
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === "arm64" ? "arm64" : "" } },
    );
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    try {
      await Promise.race([waitUntilAnswering(`${client}/health`, child, "etcd"), spawnError.then((error) => Promise.reject(error))]);
      return { endpoint: client, stop: () => stopChild(child).then(removeDataDir) };
    } catch (error) {
      await stopChild(child);
      if (attempt < 3 && /address already in use/i.test(output)) continue;
      await removeDataDir();
      throw new Error(`etcd did not start: ${(error as Error).message}\n${output.slice(-2000)}`);
    }
  }
}
