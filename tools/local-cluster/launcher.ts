/**
 * The local HA cluster: an embedded S3 (data) and DynamoDB (HA lock) in this process, and three
 * `strongbox server` processes using them. First run initialises and keeps the keys in the state
 * folder; every run unseals every node; a node that dies is restarted and unsealed; SIGINT/SIGTERM
 * stop the standbys, then the active node (it releases the lock), then the embedded servers.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { startDynamoDBServer, type RunningDynamoDBServer } from "./dynamodb-server.js";
import { callNode, errorText } from "./node-api.js";
import { type ClusterStores, ClusterNode, type NodeExit, NodeStartError } from "./node-process.js";
import { chooseNodePorts, freeNodePorts } from "./ports.js";
import { startS3Server, type RunningS3Server } from "./s3-server.js";
import { type ClusterRecord, type StatePaths, type UnsealKeys, readClusterRecord, readUnsealKeys, writeClusterRecord, writeUnsealKeys } from "./state-dir.js";
import { ClusterMonitor, type ClusterView } from "./status.js";
import { clock, createStatusView } from "./status-view.js";

const NODE_COUNT = 3;
const KEY_SHARES = 5;
const KEY_THRESHOLD = 3;
const S3_BUCKET = "strongbox";
const LOCK_TABLE = "strongbox-lock";
const POLL_INTERVAL_MS = 500;
const ACTIVE_TIMEOUT_MS = 30_000;
/** Long enough to watch the failover before the killed node comes back. */
const RESTART_DELAY_MS = 3_000;
/** More restarts than this within a minute: the node is crash-looping; leave it down. */
const MAX_RESTARTS_PER_MINUTE = 5;
const PORT_ATTEMPTS = 3;

export interface LauncherOptions {
  basePort: number;
  out: NodeJS.WriteStream;
}

/** A problem the user can act on; printed without a stack trace. */
export class LauncherError extends Error {
  override name = "LauncherError";
}

/** Refuses a state folder that another launcher (or what it left running) still uses. */
export async function checkStateDirIsFree(paths: StatePaths): Promise<void> {
  const record = await readClusterRecord(paths);
  if (!record || record.state === "stopped") return;
  if (isRunning(record.launcherPid, "local-cluster")) {
    throw new LauncherError(
      `another launcher (pid ${record.launcherPid}) is running the cluster in ${paths.root}; ` +
        `stop it first (Ctrl-C in its terminal, or kill ${record.launcherPid}) or use another --state-dir`,
    );
  }
  const leftovers = record.nodes.map((node) => node.pid).filter((pid): pid is number => pid !== null && isRunning(pid, paths.nodesDir));
  if (leftovers.length > 0) {
    throw new LauncherError(
      `nodes started by an earlier launcher that did not stop cleanly are still running (pids ${leftovers.join(", ")}); stop them with: kill ${leftovers.join(" ")}`,
    );
  }
}

/** Whether `pid` is alive and, where /proc tells, its command line mentions `marker` (pids get reused). */
function isRunning(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return true;
  }
}

export class LocalCluster {
  readonly #paths: StatePaths;
  readonly #options: LauncherOptions;
  #s3: RunningS3Server | null = null;
  #dynamodb: RunningDynamoDBServer | null = null;
  #stores: ClusterStores | null = null;
  #nodes: ClusterNode[] = [];
  #keys: UnsealKeys | null = null;
  #monitor: ClusterMonitor | null = null;
  #lastView: ClusterView | null = null;
  #state: ClusterRecord["state"] = "starting";
  #stopping = false;
  #startup: Promise<void> | null = null;
  #polling: Promise<void> | null = null;
  #pollTimer: NodeJS.Timeout | null = null;
  #saving: Promise<void> = Promise.resolve();
  #lastSaved = "";
  /** Nodes the launcher is bringing back: their exits are the restart's to handle. */
  readonly #starting = new Set<ClusterNode>();
  readonly #notes = new Map<ClusterNode, string>();
  readonly #restartTimers = new Map<ClusterNode, NodeJS.Timeout>();
  readonly #restarts = new Set<Promise<void>>();
  readonly #restartTimes = new Map<ClusterNode, number[]>();

  constructor(paths: StatePaths, options: LauncherOptions) {
    this.#paths = paths;
    this.#options = options;
  }

  /** Starts everything; resolves once the cluster serves and the status view runs. */
  start(): Promise<void> {
    this.#startup = this.#start();
    return this.#startup;
  }

  async #start(): Promise<void> {
    const paths = this.#paths;
    this.#s3 = await startS3Server({ bucket: S3_BUCKET, dataDir: paths.s3Dir });
    this.#dynamodb = await startDynamoDBServer(paths.dynamodbDir);
    this.#stores = {
      s3Endpoint: this.#s3.endpoint,
      s3Bucket: S3_BUCKET,
      dynamodbEndpoint: this.#dynamodb.endpoint,
      dynamodbTable: LOCK_TABLE,
    };
    const ports = await chooseNodePorts(this.#options.basePort, NODE_COUNT);
    this.#nodes = ports.map((p, i) => new ClusterNode(`node${i + 1}`, p, paths.nodesDir, (node, exit) => this.#onNodeExit(node, exit)));
    await this.#save();
    await Promise.all(this.#nodes.map((node) => this.#startNode(node)));
    await this.#save();

    const { keys, initialisedNow } = await this.#initialiseOrLoadKeys();
    this.#keys = keys;
    await Promise.all(this.#nodes.map((node) => this.#unseal(node)));
    const active = await this.#waitForActive();
    if (initialisedNow) await this.#mountSecretEngine(active);

    this.#monitor = new ClusterMonitor(this.#nodes, keys.rootToken, (node) => ({ starting: this.#starting.has(node), note: this.#notes.get(node) ?? "" }));
    const view = await this.#monitor.poll();
    this.#throwIfStopping();
    this.#state = "running";
    this.#lastView = view;
    await this.#save();
    this.#printIntroduction(view, initialisedNow);
    this.#runStatusView();
  }

  /** Stops the nodes (standbys first), then the embedded servers; safe to call during a start or restart. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    for (const timer of this.#restartTimers.values()) clearTimeout(timer);
    await this.#polling;
    if (this.#state === "running")
      this.#options.out.write("\n==> Stopping: the standbys, then the active node (it releases the HA lock), then the embedded S3 and DynamoDB\n");
    await this.#stopNodes();
    // A start or restart under way gives up once its nodes are gone; then stop whatever it got to start.
    await Promise.all([this.#startup?.catch(() => {}), ...this.#restarts]);
    await this.#stopNodes();
    await this.#dynamodb?.stop();
    await this.#s3?.stop();
    this.#state = "stopped";
    await this.#save();
  }

  /** SIGKILL to every node still running: the last resort when the launcher itself exits. */
  killNodes(): void {
    for (const node of this.#nodes) node.kill();
  }

  /**
   * Standbys first: stopped after the active, each would take the released lock in turn, and a
   * SIGTERM that lands while a node is becoming active is not acted on until its lease runs out.
   */
  async #stopNodes(): Promise<void> {
    const running = this.#nodes.filter((node) => node.running);
    const active = await findActive(running);
    await Promise.all(running.filter((node) => node !== active).map((node) => node.stop()));
    await active?.stop();
  }

  /** Starts a node's process; ports taken since they were chosen are swapped for free ones. */
  async #startNode(node: ClusterNode): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.#throwIfStopping();
      try {
        await node.start(this.#stores!);
        this.#throwIfStopping();
        return;
      } catch (error) {
        if (!(error instanceof NodeStartError) || !error.portInUse || attempt === PORT_ATTEMPTS) throw error;
        const ports = await freeNodePorts();
        node.movePorts({ ...ports, fallbackNote: `its ports were taken while it started, so it uses ${ports.api} and ${ports.cluster}` });
      }
    }
  }

  async #initialiseOrLoadKeys(): Promise<{ keys: UnsealKeys; initialisedNow: boolean }> {
    const saved = await readUnsealKeys(this.#paths);
    const first = this.#nodes[0]!;
    const status = await callNode(first.apiAddr, "GET", "sys/init");
    if (status.body?.initialized === true) {
      if (!saved) {
        throw new LauncherError(
          `the cluster's data in ${this.#paths.s3Dir} is initialised but its keys file ${this.#paths.keysFile} is missing, so it cannot be unsealed; start over with --fresh`,
        );
      }
      return { keys: saved, initialisedNow: false };
    }
    const init = await callNode(first.apiAddr, "PUT", "sys/init", { body: { secret_shares: KEY_SHARES, secret_threshold: KEY_THRESHOLD } });
    if (init.status !== 200) throw new LauncherError(`initialising the cluster failed: ${errorText(init)}`);
    const keys: UnsealKeys = { keysBase64: init.body.keys_base64, threshold: KEY_THRESHOLD, rootToken: init.body.root_token };
    await writeUnsealKeys(this.#paths, keys);
    return { keys, initialisedNow: true };
  }

  async #unseal(node: ClusterNode): Promise<void> {
    const keys = this.#keys!;
    for (const key of keys.keysBase64.slice(0, keys.threshold)) {
      this.#throwIfStopping();
      const response = await callNode(node.apiAddr, "PUT", "sys/unseal", { body: { key } });
      if (response.status !== 200) {
        throw new LauncherError(
          `unsealing ${node.name} failed: ${errorText(response)} — are the keys in ${this.#paths.keysFile} this cluster's? If not, start over with --fresh`,
        );
      }
      if (response.body.sealed === false) return;
    }
    throw new LauncherError(`${node.name} is still sealed after ${keys.threshold} keys from ${this.#paths.keysFile}`);
  }

  async #waitForActive(): Promise<ClusterNode> {
    const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
    for (;;) {
      this.#throwIfStopping();
      const active = await findActive(this.#nodes.filter((node) => node.running));
      if (active) return active;
      if (Date.now() > deadline) {
        throw new LauncherError(`no node became active within ${ACTIVE_TIMEOUT_MS / 1000} s; the nodes' logs are in ${this.#paths.nodesDir}`);
      }
      await sleep(200);
    }
  }

  async #mountSecretEngine(active: ClusterNode): Promise<void> {
    const response = await callNode(active.apiAddr, "POST", "sys/mounts/secret", {
      token: this.#keys!.rootToken,
      body: { type: "kv", options: { version: "2" } },
    });
    if (response.status >= 300) throw new LauncherError(`mounting a kv-v2 engine at secret/ failed: ${errorText(response)}`);
  }

  #onNodeExit(node: ClusterNode, exit: NodeExit): void {
    void this.#save();
    if (this.#stopping || this.#starting.has(node) || this.#state !== "running") return;
    this.#scheduleRestart(node, exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`);
  }

  #scheduleRestart(node: ClusterNode, why: string): void {
    const now = Date.now();
    const recent = (this.#restartTimes.get(node) ?? []).filter((at) => now - at < 60_000);
    if (recent.length >= MAX_RESTARTS_PER_MINUTE) {
      this.#notes.set(node, `${why}; not restarting it (${recent.length} restarts in the last minute), see ${this.#display(node.logFile)}`);
      return;
    }
    this.#restartTimes.set(node, [...recent, now]);
    this.#notes.set(node, `${why} at ${clock(new Date(now))}; restarting in ${RESTART_DELAY_MS / 1000} s`);
    const restartLater = () => {
      const restart = this.#restart(node, why).finally(() => this.#restarts.delete(restart));
      this.#restarts.add(restart);
    };
    this.#restartTimers.set(node, setTimeout(restartLater, RESTART_DELAY_MS));
  }

  async #restart(node: ClusterNode, why: string): Promise<void> {
    this.#restartTimers.delete(node);
    this.#notes.set(node, "restarting");
    this.#starting.add(node);
    try {
      await this.#startNode(node);
      await this.#unseal(node);
      this.#notes.set(node, `restarted and unsealed at ${clock(new Date())} after being ${why}`);
    } catch (error) {
      await node.stop();
      if (this.#stopping) return;
      this.#scheduleRestart(node, `failed to restart (${(error as Error).message.split("\n")[0]})`);
    } finally {
      this.#starting.delete(node);
    }
  }

  #runStatusView(): void {
    const view = createStatusView(this.#options.out);
    view.show(this.#lastView!);
    const tick = () => {
      this.#polling = this.#monitor!.poll().then(
        (latest) => {
          if (this.#stopping) return;
          this.#lastView = latest;
          view.show(latest);
          void this.#save();
        },
        () => {}, // a probe that failed shows as unreachable next time
      );
      void this.#polling.then(() => {
        if (!this.#stopping) this.#pollTimer = setTimeout(tick, POLL_INTERVAL_MS);
      });
    };
    this.#pollTimer = setTimeout(tick, POLL_INTERVAL_MS);
  }

  #printIntroduction(view: ClusterView, initialisedNow: boolean): void {
    const { out } = this.#options;
    const paths = this.#paths;
    const active = view.nodes.find((n) => n.state === "active");
    const standby = view.nodes.find((n) => n.state === "standby");
    const keys = this.#keys!;
    // On a terminal the token is shown as Vault's dev mode does; output going elsewhere (a file,
    // a CI log) gets a command that reads it from the keys file instead.
    const token = out.isTTY ? keys.rootToken : `$(node -p 'require(process.argv[1]).rootToken' ${shellQuote(paths.keysFile)})`;
    const lines = [
      `==> Strongbox local cluster: ${NODE_COUNT} strongbox server processes; data in an embedded S3, HA lock in an embedded DynamoDB (dynalite)`,
      `    state folder:  ${this.#display(paths.root)} (kept across runs; --fresh starts over)`,
      `    keys:          ${this.#display(paths.keysFile)} (unseal keys and root token, mode 0600; ${
        initialisedNow ? `just initialised: ${KEY_SHARES} key shares, threshold ${KEY_THRESHOLD}` : "every node unsealed from it"
      })`,
      `    node logs:     ${this.#display(paths.nodesDir)}/node1.log … node${NODE_COUNT}.log`,
      `    embedded S3:   ${this.#s3!.endpoint} (bucket "${S3_BUCKET}")    embedded DynamoDB: ${this.#dynamodb!.endpoint} (table "${LOCK_TABLE}")`,
      ...this.#nodes.filter((node) => node.ports.fallbackNote).map((node) => `    note:          ${node.name}: ${node.ports.fallbackNote}`),
      "",
      "Try it from another shell in this folder (any node will do: standbys answer reads themselves and forward writes to the active node):",
      `    export VAULT_ADDR=${(active ?? view.nodes[0]!).apiAddr}`,
      `    export VAULT_TOKEN=${token}`,
      "    npx strongbox kv put secret/hello value=world",
      "    npx strongbox kv get secret/hello",
      ...(standby ? [`    curl -s -H "X-Vault-Token: $VAULT_TOKEN" ${standby.apiAddr}/v1/secret/data/hello    # through ${standby.name}, a standby`] : []),
      ...(active ? [`    kill -9 ${active.pid}    # kill the active node (${active.name}) and watch a standby take over`] : []),
      "",
      `==> Cluster ready: ${active?.name ?? "no node"} is active${
        standby
          ? `, ${view.nodes
              .filter((n) => n.state === "standby")
              .map((n) => n.name)
              .join(" and ")} standing by`
          : ""
      }. Ctrl-C stops everything.`,
      "",
    ];
    out.write(`${lines.join("\n")}\n`);
  }

  /** cluster.json, so scripts and tests can find the processes: one write at a time, when it changed. */
  #save(): Promise<void> {
    this.#saving = this.#saving
      .then(async () => {
        const record = this.#record();
        const text = JSON.stringify(record);
        if (text === this.#lastSaved) return;
        await writeClusterRecord(this.#paths, record);
        this.#lastSaved = text;
      })
      .catch(() => {}); // the next change writes it again
    return this.#saving;
  }

  #record(): ClusterRecord {
    const states = new Map(this.#lastView?.nodes.map((n) => [n.name, n.state]));
    const failover = this.#monitor?.lastFailover;
    return {
      launcherPid: process.pid,
      state: this.#state,
      stores: { s3: this.#s3?.endpoint ?? "", dynamodb: this.#dynamodb?.endpoint ?? "" },
      nodes: this.#nodes.map((node) => ({
        name: node.name,
        pid: node.pid,
        apiAddr: node.apiAddr,
        clusterAddr: node.clusterAddr,
        state: !node.running ? "down" : this.#starting.has(node) ? "starting" : (states.get(node.name) ?? "starting"),
        log: node.logFile,
      })),
      pids: this.#nodes.flatMap((node) => node.pids),
      lastFailover: failover ? { at: failover.at.toISOString(), from: failover.from, to: failover.to, tookMs: failover.tookMs } : null,
    };
  }

  #display(path: string): string {
    const fromHere = relative(process.cwd(), path);
    return fromHere && !fromHere.startsWith("..") ? fromHere : path;
  }

  #throwIfStopping(): void {
    if (this.#stopping) throw new LauncherError("stopped while starting");
  }
}

/** The running node that says it is active (unsealed and not a standby), if any. */
async function findActive(nodes: ClusterNode[]): Promise<ClusterNode | null> {
  const answers = await Promise.all(
    nodes.map((node) =>
      callNode(node.apiAddr, "GET", "sys/health", { timeoutMs: 1_000 }).then(
        (response) => (response.status === 200 ? node : null),
        () => null,
      ),
    ),
  );
  return answers.find((node) => node !== null) ?? null;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
