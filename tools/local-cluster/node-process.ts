/** One `strongbox server` process of the local cluster: its config, its log file, start and stop. */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { callNode } from "./node-api.js";
import type { NodePorts } from "./ports.js";

/** The built CLI (dist/adapters/node/cli.js), from this file once compiled in dist/tools/local-cluster/. */
const CLI = fileURLToPath(new URL("../../adapters/node/cli.js", import.meta.url));
const START_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 20;

export interface ClusterStores {
  s3Endpoint: string;
  s3Bucket: string;
  dynamodbEndpoint: string;
  dynamodbTable: string;
}

export class NodeStartError extends Error {
  override name = "NodeStartError";
  constructor(
    message: string,
    readonly logTail: string,
    /** The node could not bind its ports: another pair may work. */
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

export interface NodeExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export class ClusterNode {
  readonly configFile: string;
  readonly logFile: string;
  /** Every process started for this node, restarts included. */
  readonly pids: number[] = [];
  /** How its latest process ended (the failover time is measured from it). */
  lastExit: NodeExit | null = null;
  #ports: NodePorts;
  #child: ChildProcess | null = null;
  #exited: Promise<NodeExit> | null = null;

  constructor(
    readonly name: string,
    ports: NodePorts,
    nodesDir: string,
    /** Told when the process ends, however it ends. */
    private readonly onExit: (node: ClusterNode, exit: NodeExit) => void,
  ) {
    this.#ports = ports;
    this.configFile = join(nodesDir, `${name}.hcl`);
    this.logFile = join(nodesDir, `${name}.log`);
  }

  get ports(): NodePorts {
    return this.#ports;
  }

  get apiAddr(): string {
    return `http://127.0.0.1:${this.#ports.api}`;
  }

  get clusterAddr(): string {
    return `https://127.0.0.1:${this.#ports.cluster}`;
  }

  get pid(): number | null {
    return this.running ? (this.#child?.pid ?? null) : null;
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** For a node whose ports were taken: the next start uses these. */
  movePorts(ports: NodePorts): void {
    this.#ports = ports;
  }

  /** Writes the config, spawns the process and waits until its API answers. */
  async start(stores: ClusterStores): Promise<void> {
    await writeFile(this.configFile, this.#config(stores), { mode: 0o600 });
    const logStart = await stat(this.logFile).then(
      (s) => s.size,
      () => 0,
    );
    const log = openSync(this.logFile, "a", 0o600);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [CLI, "server", `-config=${this.configFile}`], {
        env: serverEnvironment(),
        stdio: ["ignore", log, log],
        // Its own process group: the terminal's Ctrl-C reaches only the launcher, which stops
        // the nodes in order (standbys, then the active).
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    if (child.pid === undefined) {
      const failed = await new Promise<Error>((resolve) => child.once("error", resolve));
      throw new NodeStartError(`${this.name} could not be started: ${failed.message}`, "", false);
    }
    this.#child = child;
    this.pids.push(child.pid);
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        const exit = { pid: child.pid!, code, signal, at: Date.now() };
        this.lastExit = exit;
        resolve(exit);
        this.onExit(this, exit);
      });
    });
    await this.#waitUntilAnswering(logStart);
  }

  /** SIGTERM (an active node releases the HA lock on it), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** SIGKILL, for when the launcher itself is going down and cannot wait. */
  kill(): void {
    if (this.running) this.#child!.kill("SIGKILL");
  }

  /** The last lines of the node's log, from byte offset `from` (where this start began) on. */
  async #logTail(from: number): Promise<string> {
    const bytes = await readFile(this.logFile).catch(() => Buffer.alloc(0));
    return bytes.subarray(from).toString().trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
  }

  async #waitUntilAnswering(logStart: number): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!this.running) {
        const tail = await this.#logTail(logStart);
        throw new NodeStartError(`${this.name} exited while starting (its log: ${this.logFile})`, tail, /already in use|EADDRINUSE/.test(tail));
      }
      const answered = await callNode(this.apiAddr, "GET", "sys/seal-status", { timeoutMs: 1_000 }).then(
        () => true,
        () => false,
      );
      if (answered) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new NodeStartError(
          `${this.name} did not answer on ${this.apiAddr} within ${START_TIMEOUT_MS / 1000} s (its log: ${this.logFile})`,
          await this.#logTail(logStart),
          false,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  #config(stores: ClusterStores): string {
    return `# Written by the local cluster launcher on every start; edits are overwritten.
storage "s3" {
  bucket              = "${stores.s3Bucket}"
  path                = "cluster"
  endpoint            = "${stores.s3Endpoint}"
  s3_force_path_style = "true"
  region              = "us-east-1"
  access_key          = "local"
  secret_key          = "local"
}

ha_storage "dynamodb" {
  table      = "${stores.dynamodbTable}"
  ha_enabled = "true"
  endpoint   = "${stores.dynamodbEndpoint}"
  region     = "us-east-1"
  access_key = "local"
  secret_key = "local"
}

listener "tcp" {
  address         = "127.0.0.1:${this.#ports.api}"
  cluster_address = "127.0.0.1:${this.#ports.cluster}"
  tls_disable     = true
}

api_addr     = "${this.apiAddr}"
cluster_addr = "${this.clusterAddr}"
`;
  }
}

/**
 * The launcher's environment without what would point a node elsewhere: AWS_* and VAULT_* win over
 * the config file (AWS_S3_BUCKET, AWS_DYNAMODB_ENDPOINT, VAULT_API_ADDR, …), so a shell set up for
 * real AWS would otherwise send the local cluster there.
 */
function serverEnvironment(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(AWS_|VAULT_|DYNAMODB_)/.test(name)));
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
}
