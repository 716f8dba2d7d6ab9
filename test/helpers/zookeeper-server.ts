import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopChild } from "./child-process.js";
import { freePort } from "./free-port.js";

/** Debian's zookeeper package (zookeeperd depends on it); its manifest names the other jars. */
export const ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar";

/** The TLS server (Netty) needs these besides the jars zookeeper.jar's manifest names. */
const NETTY_TLS_JARS = ["/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar"];

export interface RunningZooKeeper {
  /** host:port, as ZooKeeper clients take it, e.g. "127.0.0.1:41238". */
  address: string;
  /** With `tls`: the secureClientPort's host:port. */
  secureAddress?: string;
  stop(): Promise<void>;
}

/** PEM files for a TLS port: the server's certificate and key, and the CA its clients' certificates must chain to. */
export interface ZooKeeperTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * Starts a standalone ZooKeeper 3.8 (Debian's zookeeperd) on a free loopback port with its data in
 * a temporary folder, and resolves once it answers `ruok`. With `tls`, it also serves a
 * secureClientPort (Netty, PEM key and trust stores) that requires a client certificate.
 */
export async function startZooKeeper(tls?: ZooKeeperTls): Promise<RunningZooKeeper> {
  const dir = await mkdtemp(join(tmpdir(), "zookeeper-"));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  const tlsConfig: string[] = [];
  if (tls) {
    // ZooKeeper's PEM key store is one file with the key and the certificate.
    const keyStore = join(dir, "server.pem");
    await writeFile(keyStore, Buffer.concat([await readFile(tls.keyFile), await readFile(tls.certFile)]), { mode: 0o600 });
    tlsConfig.push(
      "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
      `ssl.keyStore.location=${keyStore}`,
      "ssl.keyStore.type=PEM",
      `ssl.trustStore.location=${tls.caFile}`,
      "ssl.trustStore.type=PEM",
    );
  }
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const securePort = tls ? await freePort() : undefined;
    const config = join(dir, `zoo-${attempt}.cfg`);
    await writeFile(
      config,
      [
        "tickTime=500", // session timeouts may then be 1–10 s
        `dataDir=${join(dir, `data-${attempt}`)}`,
        `clientPort=${port}`,
        "clientPortAddress=127.0.0.1",
        ...(securePort ? [`secureClientPort=${securePort}`, "secureClientPortAddress=127.0.0.1", ...tlsConfig] : []),
        "admin.enableServer=false",
        "4lw.commands.whitelist=ruok",
        "maxClientCnxns=0",
      ].join("\n"),
    );
    const classPath = [ZOOKEEPER_JAR, ...(tls ? NETTY_TLS_JARS : [])].join(":");
    const child = spawn("java", ["-Xmx256m", "-cp", classPath, "org.apache.zookeeper.server.ZooKeeperServerMain", config], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    try {
      await Promise.race([untilImOk(port, () => child.exitCode), spawnError.then((error) => Promise.reject(error))]);
      return {
        address: `127.0.0.1:${port}`,
        ...(securePort && { secureAddress: `127.0.0.1:${securePort}` }),
        stop: () => stopChild(child).then(removeDir),
      };
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
