import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopChild } from "./child-process.js";
import { freePort } from "./free-port.js";

/** Debian's zookeeper package (zookeeperd depends on it); its manifest names the other jars. */
export const ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar";

export interface RunningZooKeeper {
  /** host:port, as ZooKeeper clients take it, e.g. "127.0.0.1:41238". */
  address: string;
  stop(): Promise<void>;
}

/**
 * Starts a standalone ZooKeeper 3.8 (Debian's zookeeperd) on a free loopback port with its data in
 * a temporary folder, and resolves once it answers `ruok`.
 */
export async function startZooKeeper(): Promise<RunningZooKeeper> {
  const dir = await mkdtemp(join(tmpdir(), "zookeeper-"));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = join(dir, `zoo-${attempt}.cfg`);
    await writeFile(
      config,
      [
        "tickTime=500", // session timeouts may then be 1–10 s
        `dataDir=${join(dir, `data-${attempt}`)}`,
        `clientPort=${port}`,
        "clientPortAddress=127.0.0.1",
        "admin.enableServer=false",
        "4lw.commands.whitelist=ruok",
        "maxClientCnxns=0",
      ].join("\n"),
    );
    const child = spawn("java", ["-Xmx256m", "-cp", ZOOKEEPER_JAR, "org.apache.zookeeper.server.ZooKeeperServerMain", config], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    try {
      await Promise.race([untilImOk(port, () => child.exitCode), spawnError.then((error) => Promise.reject(error))]);
      return { address: `127.0.0.1:${port}`, stop: () => stopChild(child).then(removeDir) };
    } catch (error) {
      await stopChild(child);
      if (attempt < 3 && /Address already in use|BindException/.test(output)) continue;
      await removeDir();
      throw new Error(`ZooKeeper did not start: ${(error as Error).message}\n${output.slice(-2000)}`);
    }
  }
}

/** Resolves once ZooKeeper answers "imok" on `port`; rejects if it exits first or 30 s pass. */
async function untilImOk(port: number, exitCode: () => number | null): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exitCode() !== null) throw new Error(`java exited with code ${exitCode()}`);
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      const socket = connect(port, "127.0.0.1", () => socket.end("ruok"));
      socket.setTimeout(1000, () => socket.destroy());
      socket.on("data", (chunk) => (text += chunk));
      socket.on("close", () => resolve(text));
      socket.on("error", () => resolve(""));
    });
    if (answer === "imok") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("no answer to ruok within 30 s");
}
