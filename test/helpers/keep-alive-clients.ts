import { Agent, request as httpRequest } from "node:http";
import { type Cluster, type ClusterNode, waitFor } from "./cluster.js";

/** A request that hangs this long has failed (the hold bound is a few seconds). */
const REQUEST_TIMEOUT_MS = 30_000;
const HEALTH_POLL_MS = 100;

/**
 * A network load balancer in front of the nodes, as in the deployment: it polls
 * `sys/health?standbyok=true&perfstandbyok=true` and sends new connections only to nodes answering 200; a connection
 * it already opened stays on its node until one side closes it.
 */
export class Balancer {
  readonly #inRotation = new Set<ClusterNode>();
  #polling = true;
  readonly #poller: Promise<void>;

  constructor(private readonly nodes: ClusterNode[]) {
    this.#poller = this.#poll();
  }

  has(node: ClusterNode): boolean {
    return this.#inRotation.has(node);
  }

  /** `preferred` while it is in rotation, else any node that is. */
  pick(preferred: ClusterNode): ClusterNode | null {
    if (this.#inRotation.has(preferred)) return preferred;
    const others = [...this.#inRotation];
    return others[Math.floor(Math.random() * others.length)] ?? null;
  }

  waitUntilIn(node: ClusterNode): Promise<true> {
    return waitFor(async () => (this.#inRotation.has(node) ? true : null), 30_000, `node ${node.index} back in rotation`);
  }

  async stop(): Promise<void> {
    this.#polling = false;
    await this.#poller;
  }

  async #poll(): Promise<void> {
    while (this.#polling) {
      await Promise.all(
        this.nodes.map(async (node) => {
          const healthy = await fetch(`${node.apiAddr}/v1/sys/health?standbyok=true&perfstandbyok=true`, { signal: AbortSignal.timeout(2_000) }).then(
            (r) => r.status === 200,
            () => false,
          );
          if (healthy) this.#inRotation.add(node);
          else this.#inRotation.delete(node);
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
    }
  }
}

type Outcome =
  | { kind: "answered"; status: number; text: string; closesConnection: boolean; location?: string }
  /** The connection was refused: nothing was sent. */
  | { kind: "refused" }
  /** Sent, and no answer came (a reset connection, a timeout). */
  | { kind: "no answer"; error: string };

/**
 * Clients as an operator's would be behind that balancer: each keeps one connection alive, sends
 * increasing values to its own KV v2 key over it, follows 307s, and NEVER sends a request again —
 * a request without an answer is a failure. Each prefers its own node for new connections.
 */
export class KeepAliveClients {
  /** Requests that failed, in words; a request to the node being restarted fails only when it got no answer. */
  readonly failures: string[] = [];
  readonly acknowledged = new Map<string, number>();
  /** Answers from the node being restarted that closed their connection (its drain at work). */
  closedByDrain = 0;
  /** Requests to the node being restarted answered other than 2xx (allowed: it answered). */
  readonly drainingAnswers: string[] = [];
  /** Connections refused (nothing sent), e.g. by a node that has stopped listening. */
  refused = 0;
  /** The node under restart now: its requests need only an answer. */
  restarting: ClusterNode | null = null;
  #running = true;
  readonly #agents: Agent[] = [];
  readonly #clients: Promise<void>[];

  constructor(
    private readonly cluster: Cluster,
    private readonly balancer: Balancer,
    homes: ClusterNode[],
  ) {
    this.#clients = homes.map((home, i) => this.#client(`keep-alive-${i}`, home));
  }

  get writes(): number {
    return [...this.acknowledged.values()].reduce((sum, n) => sum + n, 0);
  }

  moreWrites(count: number): Promise<true> {
    const target = this.writes + count;
    return waitFor(async () => (this.writes >= target ? true : null), 30_000, `${count} more acknowledged writes`);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#clients);
    for (const agent of this.#agents) agent.destroy();
  }

  async #client(key: string, home: ClusterNode): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.#agents.push(agent);
    // The node the kept-alive connection leads to; null once it is closed (the next one goes through the balancer).
    let connectedTo: ClusterNode | null = null;
    for (let value = 1; this.#running; value++) {
      const node: ClusterNode | null = connectedTo ?? this.balancer.pick(home);
      if (!node) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        value--;
        continue;
      }
      const draining = node === this.restarting;
      let outcome = await send(agent, `${node.apiAddr}/v1/secret/data/${key}`, this.cluster.rootToken, value);
      connectedTo = outcome.kind === "answered" && !outcome.closesConnection ? node : null;
      if (draining && outcome.kind === "answered" && outcome.closesConnection) this.closedByDrain++;
      // A 307 is an answer naming another node: following it is a new request, not a resend.
      for (let hop = 0; hop < 3 && outcome.kind === "answered" && outcome.status === 307; hop++) {
        outcome = await send(agent, outcome.location!, this.cluster.rootToken, value);
      }
      const where = `${key}=${value} via node ${node.index}${draining ? " (restarting)" : ""}`;
      if (outcome.kind === "refused") {
        this.refused++;
        if (!draining) this.failures.push(`${where}: connection refused`);
      } else if (outcome.kind === "no answer") {
        this.failures.push(`${where}: ${outcome.error}`);
      } else if (outcome.status >= 200 && outcome.status < 300) {
        this.acknowledged.set(key, value);
      } else if (draining) {
        this.drainingAnswers.push(`${where}: ${outcome.status} ${outcome.text}`);
      } else {
        this.failures.push(`${where}: ${outcome.status} ${outcome.text}`);
      }
    }
  }
}

function send(agent: Agent, url: string, token: string, value: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ data: { value } });
    const outgoing = httpRequest(
      url,
      {
        method: "PUT",
        agent,
        headers: { "x-vault-token": token, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        response.on("end", () =>
          resolve({
            kind: "answered",
            status: response.statusCode!,
            text,
            closesConnection: response.headers.connection === "close",
            location: response.headers.location,
          }),
        );
        response.on("error", (error) => resolve({ kind: "no answer", error: `answer cut off: ${error.message}` }));
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    outgoing.on("error", (error: NodeJS.ErrnoException) =>
      resolve(error.code === "ECONNREFUSED" ? { kind: "refused" } : { kind: "no answer", error: `${error.code ?? ""} ${error.message}` }),
    );
    outgoing.end(body);
  });
}
