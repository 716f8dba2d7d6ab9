import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, startCluster, waitFor } from "../helpers/cluster.js";

const CLIENTS = 4;
/** Short enough to space three step-downs past it quickly. */
const COOLDOWN_MS = 4_000;
/**
 * A longer lease than the default 1.5 s: on a loaded machine an event-loop stall past two thirds of
 * the lease ends the active's term mid-request (a lost lock, not the handover under test).
 */
const LOCK_TIMINGS = { ha_lease_duration: "3s", ha_renew_interval: "500ms" };

/**
 * Clients as an operator's would be: each writes increasing values to its own key, round-robin
 * through the nodes it is given, following 307s as Vault clients do. Any request that does not
 * end in a 2xx is a failure; the last acknowledged value of each key must survive.
 */
class Writers {
  readonly failures: string[] = [];
  readonly acknowledged = new Map<string, number>();
  readonly inFlight = new Map<ClusterNode, number>();
  #targets: ClusterNode[];
  #running = true;
  readonly #clients: Promise<void>[];

  constructor(private readonly cluster: Cluster, targets: ClusterNode[]) {
    this.#targets = [...targets];
    this.#clients = Array.from({ length: CLIENTS }, (_, i) => this.#client(`client-${i}`));
  }

  get writes(): number {
    return [...this.acknowledged.values()].reduce((sum, n) => sum + n, 0);
  }

  /** Stops sending to `node` and waits until no request of ours is on it. */
  async avoid(node: ClusterNode): Promise<void> {
    this.#targets = this.#targets.filter((n) => n !== node);
    await waitFor(async () => ((this.inFlight.get(node) ?? 0) === 0 ? true : null), 30_000, `no request left on node ${node.index}`);
  }

  include(node: ClusterNode): void {
    this.#targets.push(node);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#clients);
  }

  async #client(key: string): Promise<void> {
    for (let value = 1; this.#running; value++) {
      const node = this.#targets[value % this.#targets.length]!;
      this.inFlight.set(node, (this.inFlight.get(node) ?? 0) + 1);
      try {
        const outcome = await this.#write(node, key, value);
        if (outcome === "ok") this.acknowledged.set(key, value);
        else this.failures.push(`${key}=${value} via node ${node.index}: ${outcome}`);
      } finally {
        this.inFlight.set(node, this.inFlight.get(node)! - 1);
      }
    }
  }

  async #write(node: ClusterNode, key: string, value: number): Promise<string> {
    let url = `${node.apiAddr}/v1/secret/data/${key}`;
    for (let hop = 0; hop < 4; hop++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "PUT",
          redirect: "manual",
          headers: { "x-vault-token": this.cluster.rootToken },
          body: JSON.stringify({ data: { value } }),
        });
      } catch (error) {
        return `request failed: ${String((error as Error).cause ?? error)}`;
      }
      const text = await response.text();
      if (response.status === 307) {
        url = response.headers.get("location")!;
        continue;
      }
      return response.ok ? "ok" : `${response.status} ${text}`;
    }
    return "too many redirects";
  }
}

/** Every key holds the last value its client saw acknowledged. */
async function expectNoLostWrites(cluster: Cluster, writers: Writers): Promise<void> {
  const active = await cluster.waitForActive();
  expect(writers.acknowledged.size).toBe(CLIENTS);
  for (const [key, value] of writers.acknowledged) {
    const read = await api(active, "GET", `secret/data/${key}`, undefined, cluster.rootToken);
    expect({ key, value: read.body?.data?.data?.value }).toEqual({ key, value });
  }
}

/** Waits until the writers have had `count` more writes acknowledged. */
function moreWrites(writers: Writers, count: number): Promise<true> {
  const target = writers.writes + count;
  return waitFor(async () => (writers.writes >= target ? true : null), 30_000, `${count} more acknowledged writes`);
}

/** Three real nodes (S3 data, DynamoDB Local lock), clients writing through all of them. */
describe("leadership changes that no client notices", () => {
  let cluster: Cluster;
  const running = () => cluster.nodes.filter((n) => n.process);

  beforeAll(async () => {
    cluster = await startCluster(
      { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") },
      { size: 3, lockOptions: { ...LOCK_TIMINGS, ha_step_down_cooldown: `${COOLDOWN_MS}ms` } },
    );
    const active = await cluster.waitForActive();
    expect((await api(active, "POST", "sys/mounts/secret", { type: "kv-v2" }, cluster.rootToken)).status).toBe(204);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("fails no request and loses no write while the active steps down three times", async () => {
    const writers = new Writers(cluster, running());
    try {
      for (let round = 0; round < 3; round++) {
        await moreWrites(writers, 20);
        const before = await cluster.waitForActive();
        const steppedDownAt = Date.now();
        expect((await api(before, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
        await cluster.waitForActive({ not: before });
        // Space the next step-down past this one's cool-down, with writes going on all along.
        await waitFor(async () => (Date.now() - steppedDownAt > COOLDOWN_MS ? true : null), 30_000, "the cool-down to pass");
      }
      await moreWrites(writers, 20);
    } finally {
      await writers.stop();
    }
    expect(writers.failures).toEqual([]);
    await expectNoLostWrites(cluster, writers);
  }, 60_000);

  it("fails no request on the nodes that stay up and loses no write through a rolling SIGTERM restart", async () => {
    // The restarted nodes get a long cool-down, for the next test.
    cluster.lockOptions.ha_step_down_cooldown = "60s";
    const writers = new Writers(cluster, running());
    try {
      const active = await cluster.waitForActive();
      for (const node of [...running().filter((n) => n !== active), active]) {
        await moreWrites(writers, 10);
        await writers.avoid(node);
        expect(await node.process!.stop(20_000)).toBe(0);
        await cluster.start(node);
        await cluster.unseal(node);
        writers.include(node);
      }
      await moreWrites(writers, 10);
    } finally {
      await writers.stop();
    }
    expect(writers.failures).toEqual([]);
    await expectNoLostWrites(cluster, writers);
  }, 90_000);

  it("has an active again within about a lease after three step-downs within the cool-down", async () => {
    let active = await cluster.waitForActive();
    for (let round = 0; round < 3; round++) {
      expect((await api(active, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
      // Every node stepped down within its 60 s cool-down after the third: the lock must not stay free.
      // The lease is 3 s; the bound leaves slack for a loaded machine and stays far below the cool-down.
      active = await cluster.waitForActive({ timeoutMs: 12_000 });
    }
  }, 40_000);
});
