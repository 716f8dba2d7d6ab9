import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { stopChild, waitUntilAnswering } from "./child-process.js";
import { freePort } from "./free-port.js";

export const ETCD_BINARY = "/usr/bin/etcd";

export interface RunningEtcd {
  /** The client URL, e.g. "http://127.0.0.1:41237" (v3 JSON gateway at /v3/…). */
  endpoint: string;
  stop(): Promise<void>;
}

/** PEM files for a client-certificate TLS etcd: its certificate and key, and the CA it trusts for clients. */
export interface EtcdTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * Starts a single-member etcd (Debian's etcd-server, 3.4) on free loopback ports with its data in
 * a temporary folder, and resolves once it answers (with `tls`: once it accepts connections, on
 * https, requiring client certificates signed by `tls.caFile`).
 */
export async function startEtcd(tls?: EtcdTls): Promise<RunningEtcd> {
  const dataDir = await mkdtemp(join(tmpdir(), "etcd-"));
  const removeDataDir = () => rm(dataDir, { recursive: true, force: true });
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const client = `${tls ? "https" : "http"}://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const child = spawn(
      ETCD_BINARY,
      [
        "--name",
        "test",
        "--data-dir",
        join(dataDir, `member-${attempt}`),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        `test=${peer}`,
        "--log-level",
        "warn",
        ...(tls ? ["--cert-file", tls.certFile, "--key-file", tls.keyFile, "--client-cert-auth", "--trusted-ca-file", tls.caFile] : []),
      ],
      // etcd refuses to run on an unsupported architecture unless told; harmless on amd64.
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === "arm64" ? "arm64" : "" } },
    );
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    try {
      const ready = tls ? untilListening(clientPort, () => child.exitCode) : waitUntilAnswering(`${client}/health`, child, "etcd");
      await Promise.race([ready, spawnError.then((error) => Promise.reject(error))]);
      return { endpoint: client, stop: () => stopChild(child).then(removeDataDir) };
    } catch (error) {
      await stopChild(child);
      if (attempt < 3 && /address already in use/i.test(output)) continue;
      await removeDataDir();
      throw new Error(`etcd did not start: ${(error as Error).message}\n${output.slice(-2000)}`);
    }
  }
}

/** Resolves once something accepts TCP connections on `port`; rejects if the process exits first or 30 s pass. */
async function untilListening(port: number, exitCode: () => number | null): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exitCode() !== null) throw new Error(`etcd exited with code ${exitCode()}`);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("not listening within 30 s");
}
