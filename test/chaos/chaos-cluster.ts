import { type Cluster, type ClusterNode, type ClusterStores, startCluster } from "../helpers/cluster.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { freeFixedPort } from "../helpers/free-port.js";
import type { Incarnation } from "./transitions.js";

const SKEW_PRELOAD = new URL("../helpers/skew-clock.mjs", import.meta.url).href;
const PROBE_TIMEOUT_MS = 1_000;
/** sys/health reports whole seconds. */
const SKEW_TOLERANCE_MS = 2_000;

/** Environment that shifts a node's wall clock (`Date`) by `skewMs`; its monotonic clock is untouched. */
export function skewedClockEnv(skewMs: number): NodeJS.ProcessEnv {
  // Zero still says so: a restart's environment adds to the node's first one, which may carry a skew.
  if (skewMs === 0) return { STRONGBOX_TEST_CLOCK_SKEW_MS: "0" };
  return {
    NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${SKEW_PRELOAD}`].filter(Boolean).join(" "),
    STRONGBOX_TEST_CLOCK_SKEW_MS: String(skewMs),
  };
}

/** One node process, as the checkers see it. */
interface Life {
  node: number;
  output: () => string;
  skewMs: number;
  exitedAt: number | null;
  frozen: [number, number | null][];
}

export interface ChaosNode {
  node: ClusterNode;
  /** Between this node and the store holding its lock (DynamoDB Local, etcd or ZooKeeper; its data too unless in S3). */
  lockStore: FaultProxy;
  /** In front of this node's cluster listener: what other nodes dial to forward to it. */
  clusterPort: FaultProxy;
  state: "running" | "frozen" | "dead";
  life: Life;
}

/** "s3": S3 data, DynamoDB lock; otherwise data and lock in that one store, with fenced writes. */
export type ChaosStorage = "s3" | "dynamodb" | "etcd" | "zookeeper";

export interface ChaosClusterOptions {
  storage: ChaosStorage;
  size: number;
  /** Wall-clock skew of each node at its first start. */
  skewsMs?: number[];
}

/**
 * A cluster of real node processes with a fault proxy between each node and its lock store and in
 * front of each node's cluster port, and process faults (kill -9, SIGSTOP/SIGCONT, restart).
 * Keeps every process's log and fault windows for the checkers.
 */
export class ChaosCluster {
  readonly #lives: Life[] = [];

  private constructor(
    readonly cluster: Cluster,
    readonly nodes: ChaosNode[],
    /** DynamoDB Local itself, behind no proxy. */
    readonly dynamodbEndpoint: string,
  ) {
    this.#lives.push(...nodes.map((n) => n.life));
  }

  static async start(stores: ClusterStores, options: ChaosClusterOptions): Promise<ChaosCluster> {
    const proxies: { lockStore: FaultProxy; clusterPort: FaultProxy }[] = [];
    const skews = options.skewsMs ?? [];
    let cluster: Cluster;
    try {
      cluster = await startCluster(stores, {
        size: options.size,
        storage: options.storage,
        // Clients start at a random node and standbys answer reads themselves (the default): the checker's stale-read rule covers them.
        async nodeSetup({ index }) {
          const clusterListenerPort = await freeFixedPort();
          const { storage } = options;
          const lockTarget =
            storage === "etcd" ? stores.etcdEndpoint! : storage === "zookeeper" ? `http://${stores.zookeeperAddress}` : stores.dynamodbEndpoint;
          const lockStore = await startFaultProxy(lockTarget);
          const clusterPort = await startFaultProxy(`http://127.0.0.1:${clusterListenerPort}`);
          proxies[index] = { lockStore, clusterPort };
          return {
            ...(storage === "etcd"
              ? { etcdEndpoint: lockStore.endpoint }
              : storage === "zookeeper"
                ? { zookeeperAddress: new URL(lockStore.endpoint).host }
                : { dynamodbEndpoint: lockStore.endpoint }),
            clusterAddress: `127.0.0.1:${clusterListenerPort}`,
            clusterAddr: `https://127.0.0.1:${new URL(clusterPort.endpoint).port}`,
            env: skewedClockEnv(skews[index] ?? 0),
          };
        },
      });
    } catch (error) {
      await Promise.all(proxies.flatMap((p) => [p.lockStore.close(), p.clusterPort.close()]));
      throw error;
    }
    const nodes = cluster.nodes.map((node, i): ChaosNode => ({ node, ...proxies[i]!, state: "running", life: lifeOf(node, skews[i] ?? 0) }));
    return new ChaosCluster(cluster, nodes, stores.dynamodbEndpoint);
  }

  get rootToken(): string {
    return this.cluster.rootToken;
  }

  /** Every node's API address: clients do not know which are down. */
  apiAddrs(): string[] {
    return this.nodes.map((n) => n.node.apiAddr);
  }

  async kill(n: ChaosNode): Promise<void> {
    const { child } = n.node.process!;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    if (n.state === "frozen") this.thaw(n);
    child.kill("SIGKILL");
    await exited;
    n.state = "dead";
  }

  freeze(n: ChaosNode): void {
    n.node.process!.child.kill("SIGSTOP");
    n.life.frozen.push([Date.now(), null]);
    n.state = "frozen";
  }

  thaw(n: ChaosNode): void {
    n.life.frozen.at(-1)![1] = Date.now();
    n.node.process!.child.kill("SIGCONT");
    n.state = "running";
  }

  /** Starts a dead node's process again (optionally with another clock skew) and unseals it. */
  async restart(n: ChaosNode, skewMs = n.life.skewMs): Promise<void> {
    await this.cluster.start(n.node, { env: skewedClockEnv(skewMs) });
    n.life = lifeOf(n.node, skewMs);
    n.state = "running";
    this.#lives.push(n.life);
    await this.cluster.unseal(n.node);
    // The transition checker takes this skew off the node's log timestamps: it must be the real one.
    const observed = await observedSkewMs(n.node.apiAddr);
    if (Math.abs(observed - skewMs) > SKEW_TOLERANCE_MS) throw new Error(`node ${n.node.index} restarted with its clock ${observed} ms off, not ${skewMs}`);
  }

  /**
   * Waits until every node runs, is unsealed, exactly one says it is active and every other names
   * it as the leader; returns the active.
   */
  async waitHealthy(timeoutMs: number): Promise<ChaosNode> {
    const deadline = performance.now() + timeoutMs;
    let last = "";
    while (performance.now() < deadline) {
      const views = await Promise.all(this.nodes.map((n) => (n.state === "running" ? leaderView(n.node) : null)));
      const actives = this.nodes.filter((_, i) => views[i]?.is_self === true);
      if (actives.length === 1 && views.every((v) => v && v.leader_address === actives[0]!.node.apiAddr)) return actives[0]!;
      last = JSON.stringify(views.map((v) => v && { is_self: v.is_self, leader: v.leader_address }));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`cluster not healthy within ${timeoutMs} ms: ${last}`);
  }

  /** Every process so far, for the transition checker. */
  incarnations(): Incarnation[] {
    return this.#lives.map((life) => ({ node: life.node, log: life.output(), skewMs: life.skewMs, exitedAt: life.exitedAt, frozen: life.frozen }));
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) {
      if (n.state === "frozen") this.thaw(n);
      n.lockStore.setMode("pass");
      n.clusterPort.setMode("pass");
    }
    await this.cluster.stop();
    await Promise.all(this.nodes.flatMap((n) => [n.lockStore.close(), n.clusterPort.close()]));
  }
}

/** The record of a node's current process; times are this machine's wall clock, as in the node logs. */
function lifeOf(node: ClusterNode, skewMs: number): Life {
  const server = node.process!;
  const life: Life = { node: node.index, output: () => server.output(), skewMs, exitedAt: null, frozen: [] };
  server.child.once("exit", () => (life.exitedAt = Date.now()));
  return life;
}

/** How far a node's wall clock is off, from the server time (whole seconds) its sys/health reports. */
export async function observedSkewMs(apiAddr: string): Promise<number> {
  const before = Date.now();
  const response = await fetch(`${apiAddr}/v1/sys/health?standbyok=true`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  const { server_time_utc: serverTime } = (await response.json()) as { server_time_utc: number };
  return Math.round(serverTime * 1000 - (before + Date.now()) / 2);
}

/** A node's sys/leader, or null when it does not answer in time. */
async function leaderView(node: ClusterNode): Promise<{ is_self: boolean; leader_address: string } | null> {
  try {
    const response = await fetch(`${node.apiAddr}/v1/sys/leader`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return response.status === 200 ? ((await response.json()) as { is_self: boolean; leader_address: string }) : null;
  } catch {
    return null;
  }
}
