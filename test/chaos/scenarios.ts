import { floodBody, MAX_REQUEST_SIZE, startBodyFlood } from "./body-flood.js";
import type { ChaosCluster, ChaosNode, ChaosStorage } from "./chaos-cluster.js";

/** One round's fault, injected into a healthy cluster whose active is `active`. */
export interface RoundFault {
  /** Nodes that clients must be served through again (within the bound) for the round to recover. */
  probe: ChaosNode[];
  /** The fault stays at least this long (ms after injection), and at least a moment after recovery. */
  minHoldMs: number;
  heal(): Promise<void>;
  /** What the fault was exactly, for the report. */
  note?: string;
}

export interface Scenario {
  name: string;
  what: string;
  storage: ChaosStorage;
  /** Wall-clock skew per node at its first start. */
  skewsMs?: number[];
  /** Every round's fault must move leadership (checked: one more active term than rounds at least). */
  failsOver?: boolean;
  /** No fault may move leadership (checked: one active term in all). */
  keepsLeader?: boolean;
  inject(chaos: ChaosCluster, active: ChaosNode, round: number): Promise<RoundFault>;
}

/** Twice the default lease (1.5 s): long enough that another node must have taken over. */
const PAST_THE_LEASE_MS = 3_000;
/** "Normal" DynamoDB latency is at least this (real DynamoDB: single-digit ms), so ×20 means something on loopback. */
const MIN_NORMAL_LATENCY_MS = 5;
const SKEW_MS = 30_000;

const others = (chaos: ChaosCluster, node: ChaosNode) => chaos.nodes.filter((n) => n !== node);

/** Median round trip of a bare HTTP request to DynamoDB Local (it answers 400 to a GET). */
async function dynamodbLatencyMs(endpoint: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 15; i++) {
    const start = performance.now();
    await (await fetch(endpoint, { signal: AbortSignal.timeout(5_000) })).arrayBuffer();
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

/** A scenario in which leadership moves: `inject` faults the active and says how to heal it. */
function failover(name: string, what: string, storage: ChaosStorage, inject: Scenario["inject"], extra: Partial<Scenario> = {}): Scenario {
  return { name, failsOver: true, what, storage, inject, ...extra };
}

/** SIGSTOP the active past its lease, then SIGCONT: on DynamoDB the storage fences it, on S3 its own hold check does. */
function pausedActive(name: string, what: string, storage: ChaosStorage): Scenario {
  return failover(name, what, storage, async (chaos, active) => {
    chaos.freeze(active);
    return { probe: others(chaos, active), minHoldMs: PAST_THE_LEASE_MS, heal: async () => chaos.thaw(active) };
  });
}

function killedActive(name: string, what: string, storage: ChaosStorage): Scenario {
  return failover(name, what, storage, async (chaos, active) => {
    await chaos.kill(active);
    return { probe: others(chaos, active), minHoldMs: 0, heal: () => chaos.restart(active) };
  });
}

/**
 * Blackhole the proxy between the active and its store (each node has its own), so the others still
 * reach the store: the active must give up before another node can take over.
 */
function cutFromStore(name: string, what: string, storage: ChaosStorage): Scenario {
  return failover(name, what, storage, async (chaos, active) => {
    active.lockStore.setMode("blackhole");
    return { probe: others(chaos, active), minHoldMs: PAST_THE_LEASE_MS, heal: async () => active.lockStore.setMode("pass") };
  });
}

/** Wall clocks at -30 s, 0, +30 s; kill -9 the active, which restarts with the next skew. */
function clockSkew(name: string, what: string, storage: ChaosStorage): Scenario {
  const inject: Scenario["inject"] = async (chaos, active, round) => {
    await chaos.kill(active);
    const skewMs = [SKEW_MS, -SKEW_MS, 0][round % 3]!;
    return { probe: others(chaos, active), minHoldMs: 0, heal: () => chaos.restart(active, skewMs) };
  };
  return failover(name, what, storage, inject, { skewsMs: [-SKEW_MS, 0, SKEW_MS] });
}

/** Long enough to cover several leases of flooded request work on every node. */
const FLOOD_MS = 10_000;

export const scenarios: Scenario[] = [
  killedActive("active-killed", "kill -9 the active; restart it and unseal", "s3"),
  pausedActive("active-paused", "SIGSTOP the active past its lease, then SIGCONT (it wakes deposed, mid-request)", "dynamodb"),
  pausedActive("active-paused-s3", "as active-paused, with data in S3 (no storage-side fencing)", "s3"),
  killedActive("active-killed-etcd", "as active-killed, with data and lock in etcd", "etcd"),
  pausedActive("active-paused-etcd", "as active-paused, with data and lock in etcd (fenced by etcd transactions)", "etcd"),
  killedActive("active-killed-zookeeper", "as active-killed, with data and lock in ZooKeeper", "zookeeper"),
  pausedActive("active-paused-zookeeper", "as active-paused, with data and lock in ZooKeeper (fenced by multi-op version checks)", "zookeeper"),
  cutFromStore("active-cut-from-dynamodb", "blackhole the active's DynamoDB proxy; clients still reach it", "dynamodb"),
  {
    name: "dynamodb-slow",
    what: "every node's DynamoDB round trip ×20 (data and lock)",
    storage: "dynamodb",
    async inject(chaos) {
      const normal = Math.max(MIN_NORMAL_LATENCY_MS, await dynamodbLatencyMs(chaos.dynamodbEndpoint));
      // Each direction is delayed, so the round trip grows by twice the delay.
      const delayMs = Math.round((normal * 19) / 2);
      for (const n of chaos.nodes) n.lockStore.setMode({ delayMs });
      return {
        probe: chaos.nodes,
        minHoldMs: PAST_THE_LEASE_MS,
        heal: async () => chaos.nodes.forEach((n) => n.lockStore.setMode("pass")),
        note: `DynamoDB delayed ${delayMs} ms each way (normal round trip ${normal.toFixed(1)} ms)`,
      };
    },
  },
  {
    name: "cluster-port-cut",
    what: "blackhole the active's cluster port: standbys cannot forward and must redirect",
    storage: "s3",
    async inject(chaos, active) {
      active.clusterPort.setMode("blackhole");
      return { probe: chaos.nodes, minHoldMs: PAST_THE_LEASE_MS, heal: async () => active.clusterPort.setMode("pass") };
    },
  },
  {
    name: "standby-paused",
    what: "SIGSTOP a standby holding a read lease past its lease while writes go on, then SIGCONT (it wakes with a stale view)",
    storage: "s3",
    async inject(chaos, active) {
      const standby = others(chaos, active)[0]!;
      chaos.freeze(standby);
      return { probe: others(chaos, standby), minHoldMs: PAST_THE_LEASE_MS, heal: async () => chaos.thaw(standby) };
    },
  },
  {
    name: "body-flood",
    what: "an unauthenticated client sends max_request_size bodies (32 MiB of JSON `{}` objects) to every node at once, one after another, while the writers go on",
    storage: "dynamodb",
    keepsLeader: true,
    async inject(chaos) {
      const flood = startBodyFlood(chaos.apiAddrs(), floodBody(MAX_REQUEST_SIZE));
      let note = "";
      return {
        probe: chaos.nodes,
        minHoldMs: FLOOD_MS,
        heal: async () => void (note = `bodies taken in per node: ${(await flood.stop()).join(", ")}`),
        get note() {
          return note;
        },
      };
    },
  },
  clockSkew("clock-skew", "wall clocks at -30 s, 0, +30 s; kill -9 the active; it restarts with the next skew", "dynamodb"),
  cutFromStore("active-cut-from-etcd", "as active-cut-from-dynamodb, with data and lock in etcd (this node's proxy to etcd)", "etcd"),
  clockSkew("clock-skew-etcd", "as clock-skew, with data and lock in etcd", "etcd"),
  cutFromStore("active-cut-from-zookeeper", "as active-cut-from-dynamodb, with data and lock in ZooKeeper (this node's TCP proxy to ZooKeeper)", "zookeeper"),
  clockSkew("clock-skew-zookeeper", "as clock-skew, with data and lock in ZooKeeper", "zookeeper"),
];
