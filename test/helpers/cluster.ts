import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeFixedPort, freePort } from "./free-port.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";

export interface ClusterStores {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  s3Bucket: string;
  /** Needed when a cluster keeps its lock (or data) in etcd / ZooKeeper. */
  etcdEndpoint?: string;
  zookeeperAddress?: string;
}

export interface ClusterNode {
  index: number;
  port: number;
  apiAddr: string;
  configFile: string;
  process: ServerProcess | null;
  /** What `ClusterOptions.nodeSetup` chose for this node ({} without one). */
  setup: NodeSetup;
  /** When set, replaces `ClusterOptions.extraConfig` for this node from its next (re)start (e.g. a seal migration). */
  extraConfig?: string;
}

/** Per-node wiring, e.g. fault proxies in front of DynamoDB and of the node's cluster listener. */
export interface NodeSetup {
  /** The DynamoDB endpoint this node uses (default: the shared one). */
  dynamodbEndpoint?: string;
  /** The etcd client URL / ZooKeeper host:port this node uses (default: the shared one). */
  etcdEndpoint?: string;
  zookeeperAddress?: string;
  /** The cluster listener's own host:port (default: a free port below the ephemeral range, see free-port.ts). */
  clusterAddress?: string;
  /** The cluster_addr other nodes are told, e.g. a proxy in front of `clusterAddress`. */
  clusterAddr?: string;
  /** Extra environment for the node's process. */
  env?: NodeJS.ProcessEnv;
  /** Extra HCL inside the node's listener stanza (e.g. its telemetry block). */
  listenerConfig?: string;
  /** Extra HCL appended to this node's config after `ClusterOptions.extraConfig` (e.g. a second listener). */
  nodeConfig?: string;
}

export interface Cluster {
  nodes: ClusterNode[];
  rootToken: string;
  unsealKeys: string[];
  /** With an auto-unseal seal: the recovery keys init returned (no unseal keys then). */
  recoveryKeys: string[];
  /** DynamoDB table holding the lock, and the S3 prefix holding the data (unique per cluster). */
  table: string;
  s3Prefix: string;
  /** Extra keys for the lock's stanza (e.g. `ha_step_down_cooldown`), read at each (re)start. */
  lockOptions: Record<string, string>;
  /** (Re)starts a node's process; `apiAddr` replaces the api_addr in its config, `env` adds to its setup's. */
  start(node: ClusterNode, overrides?: { apiAddr?: string; env?: NodeJS.ProcessEnv }): Promise<void>;
  unseal(node: ClusterNode): Promise<void>;
  /** Waits until exactly one running node says it is active (sys/leader is_self); returns it. */
  waitForActive(options?: { not?: ClusterNode; timeoutMs?: number }): Promise<ClusterNode>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  size: number;
  /** Extra HCL appended to every node's config. */
  extraConfig?: string;
  /**
   * "s3" (default): data in S3, the lock in DynamoDB. "dynamodb": data and lock in one table, so
   * the active's writes are fenced on its lock epoch.
   */
  storage?: "s3" | "dynamodb" | "etcd" | "zookeeper";
  /** With S3 data: the `ha_storage` holding the lock (default "dynamodb"). */
  haStorage?: "dynamodb" | "etcd" | "zookeeper";
  /** Initial `Cluster.lockOptions`. */
  lockOptions?: Record<string, string>;
  /** sys/init's body (default: 3 shares, threshold 2). With an auto-unseal seal, nodes unseal themselves. */
  initRequest?: Record<string, unknown>;
  /** How long a node's process may take to say it started (default 20 s). */
  startTimeoutMs?: number;
  /** Called once per node before its first start. */
  nodeSetup?(node: { index: number; port: number }): NodeSetup | Promise<NodeSetup>;
}

/**
 * N real `strongbox server` processes sharing S3 (data) and DynamoDB (HA lock) — the split setup
 * the design targets — or one DynamoDB table for both. Node 0 initialises the cluster; every node
 * is unsealed.
 */
export async function startCluster(stores: ClusterStores, options: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "strongbox-cluster-"));
  const table = `strongbox-${randomUUID()}`;
  const s3Prefix = `cluster-${randomUUID()}`;
  const nodes: ClusterNode[] = [];
  for (let index = 0; index < options.size; index++) {
    const port = await freePort();
    const setup = (await options.nodeSetup?.({ index, port })) ?? {};
    setup.clusterAddress ??= `127.0.0.1:${await freeFixedPort()}`;
    nodes.push({ index, port, apiAddr: `http://127.0.0.1:${port}`, configFile: join(dir, `node${index}.hcl`), process: null, setup });
  }

  const writeConfig = (node: ClusterNode, apiAddr: string) => {
    const { setup } = node;
    const lockOptions = Object.entries(cluster.lockOptions)
      .map(([key, value]) => `\n  ${key} = "${value}"`)
      .join("");
    const dynamodb = `
  table      = "${table}"
  endpoint   = "${setup.dynamodbEndpoint ?? stores.dynamodbEndpoint}"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"${lockOptions}`;
    const etcd = `
  address = "${setup.etcdEndpoint ?? stores.etcdEndpoint}"
  path    = "/${s3Prefix}/"${lockOptions}`;
    const zookeeper = `
  address = "${setup.zookeeperAddress ?? stores.zookeeperAddress}"
  path    = "${s3Prefix}/"${lockOptions}`;
    const haStanza = { dynamodb, etcd, zookeeper }[options.haStorage ?? "dynamodb"];
    const storage =
      options.storage === "dynamodb"
        ? `storage "dynamodb" {${dynamodb}
  ha_enabled = "true"
}`
        : options.storage === "etcd" || options.storage === "zookeeper"
          ? `storage "${options.storage}" {${options.storage === "etcd" ? etcd : zookeeper}
}`
          : `storage "s3" {
  bucket              = "${stores.s3Bucket}"
  endpoint            = "${stores.s3Endpoint}"
  s3_force_path_style = "true"
  region              = "us-east-1"
  access_key          = "test"
  secret_key          = "test"
  path                = "${s3Prefix}"
}
ha_storage "${options.haStorage ?? "dynamodb"}" {${haStanza}
}`;
    writeFileSync(
      node.configFile,
      `
${storage}
listener "tcp" {
  address     = "127.0.0.1:${node.port}"
  tls_disable = true
${setup.clusterAddress ? `  cluster_address = "${setup.clusterAddress}"\n` : ""}${setup.listenerConfig ? `  ${setup.listenerConfig}\n` : ""}}
api_addr = "${apiAddr}"
${setup.clusterAddr ? `cluster_addr = "${setup.clusterAddr}"\n` : ""}${node.extraConfig ?? options.extraConfig ?? ""}
${setup.nodeConfig ?? ""}
`,
    );
  };

  const cluster: Cluster = {
    nodes,
    rootToken: "",
    unsealKeys: [],
    lockOptions: { ...options.lockOptions },
    recoveryKeys: [],
    table,
    s3Prefix,
    async start(node, overrides = {}) {
      writeConfig(node, overrides.apiAddr ?? node.apiAddr);
      node.process = await startServerProcess(
        [`-config=${node.configFile}`],
        {
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          ...node.setup.env,
          ...overrides.env,
        },
        options.startTimeoutMs,
      );
    },
    async unseal(node) {
      for (const key of cluster.unsealKeys) {
        const status = await api(node, "PUT", "sys/unseal", { key });
        if (status.body.sealed === false) return;
      }
      throw new Error(`node ${node.index} is still sealed after all keys`);
    },
    async waitForActive({ not, timeoutMs = 20_000 } = {}) {
      return waitFor(
        async () => {
          const actives: ClusterNode[] = [];
          for (const node of nodes) {
            if (!node.process || node === not || node.process.child.exitCode !== null || node.process.child.signalCode !== null) continue;
            const leader = await api(node, "GET", "sys/leader").catch(() => null);
            if (leader?.status === 200 && leader.body.is_self === true) actives.push(node);
          }
          return actives.length === 1 ? actives[0]! : null;
        },
        timeoutMs,
        "exactly one active node",
      );
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.process?.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(nodes.map((node) => cluster.start(node)));
    const init = await api(nodes[0]!, "PUT", "sys/init", options.initRequest ?? { secret_shares: 3, secret_threshold: 2 });
    if (init.status !== 200) throw new Error(`init failed: ${JSON.stringify(init.body)}`);
    cluster.rootToken = init.body.root_token;
    cluster.unsealKeys = init.body.keys_base64.slice(0, 2);
    cluster.recoveryKeys = init.body.recovery_keys_base64 ?? [];
    for (const node of nodes) {
      if (cluster.unsealKeys.length > 0) await cluster.unseal(node);
      else
        await waitFor(
          async () => ((await api(node, "GET", "sys/seal-status")).body.sealed === false ? true : null),
          20_000,
          `node ${node.index} to unseal itself`,
        );
    }
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** One request to a node, not following redirects. */
export async function api(
  node: { apiAddr?: string; port: number },
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const response = await fetch(`http://127.0.0.1:${node.port}/v1/${path}`, {
    method,
    redirect: "manual",
    headers: { ...headers, ...(token ? { "x-vault-token": token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** Polls `probe` until it returns a value (not null), or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
