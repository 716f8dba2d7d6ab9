import { api, type Cluster, type ClusterNode, waitFor } from "./cluster.js";

/** A request that hangs this long counts as failed (the hold bound is a few seconds). */
const REQUEST_TIMEOUT_MS = 30_000;

/** Requests sent and failed so far; subtract two to get the figures for a window. */
export interface WriterCounts {
  requests: number;
  failed: number;
}

/**
 * Clients as an operator's would be: each writes increasing values to its own KV v2 key under
 * `secret/`, round-robin through the nodes it is given, following 307s as Vault clients do. Any
 * request that does not end in a 2xx is a failure; the last acknowledged value of each key must survive.
 */
export class Writers {
  readonly failures: string[] = [];
  readonly acknowledged = new Map<string, number>();
  readonly inFlight = new Map<ClusterNode, number>();
  requests = 0;
  /** Writes sent again after a connection error without any answer (see #write). */
  connectionRetries = 0;
  #targets: ClusterNode[];
  #running = true;
  readonly #clients: Promise<void>[];

  constructor(
    private readonly cluster: Cluster,
    targets: ClusterNode[],
    readonly clients = 4,
  ) {
    this.#targets = [...targets];
    this.#clients = Array.from({ length: clients }, (_, i) => this.#client(`client-${i}`));
  }

  /** Acknowledged writes (each client's values count up from 1). */
  get writes(): number {
    return [...this.acknowledged.values()].reduce((sum, n) => sum + n, 0);
  }

  counts(): WriterCounts {
    return { requests: this.requests, failed: this.failures.length };
  }

  /** Stops sending to `node` and waits until no request of ours is on it. */
  async avoid(node: ClusterNode): Promise<void> {
    this.#targets = this.#targets.filter((n) => n !== node);
    await waitFor(async () => ((this.inFlight.get(node) ?? 0) === 0 ? true : null), 30_000, `no request left on node ${node.index}`);
  }

  include(node: ClusterNode): void {
    this.#targets.push(node);
  }

  /** Waits until `count` more writes have been acknowledged. */
  moreWrites(count: number): Promise<true> {
    const target = this.writes + count;
    return waitFor(async () => (this.writes >= target ? true : null), 30_000, `${count} more acknowledged writes`);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#clients);
  }

  /**
   * Keys whose stored value differs from the last one acknowledged to their client (read through
   * the active once the writers have stopped), in words; empty when no acknowledged write was lost.
   */
  async lostWrites(): Promise<string[]> {
    const active = await this.cluster.waitForActive();
    const lost: string[] = [];
    for (const [key, value] of this.acknowledged) {
      const read = await api(active, "GET", `secret/data/${key}`, undefined, this.cluster.rootToken);
      const stored = read.body?.data?.data?.value;
      if (stored !== value) lost.push(`${key}: acknowledged ${value}, stored ${stored ?? `nothing (${read.status})`}`);
    }
    return lost;
  }

  async #client(key: string): Promise<void> {
    for (let value = 1; this.#running; value++) {
      const node = this.#targets[value % this.#targets.length]!;
      this.inFlight.set(node, (this.inFlight.get(node) ?? 0) + 1);
      try {
        const outcome = await this.#write(node, key, value);
        this.requests++;
        if (outcome === "ok") this.acknowledged.set(key, value);
        else this.failures.push(`${key}=${value} via node ${node.index}: ${outcome}`);
      } finally {
        this.inFlight.set(node, this.inFlight.get(node)! - 1);
      }
    }
  }

  async #write(node: ClusterNode, key: string, value: number): Promise<string> {
    let url = `${node.apiAddr}/v1/secret/data/${key}`;
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let resent = false;
    for (let hop = 0; hop < 4; hop++) {
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method: "PUT",
          redirect: "manual",
          headers: { "x-vault-token": this.cluster.rootToken },
          body: JSON.stringify({ data: { value } }),
          signal,
        });
        text = await response.text();
      } catch (error) {
        /*
         * No answer at all (a kept-alive connection closed under the request, as a stopping node
         * closes its connections): Vault's own client retries such connection errors (its default
         * MaxRetries is 2); this one sends the same write once more, which is safe to repeat. Answers,
         * 5xx included, are never retried here.
         */
        if (!resent && !signal.aborted) {
          resent = true;
          this.connectionRetries++;
          hop--;
          continue;
        }
        return `request failed: ${String((error as Error).cause ?? error)}`;
      }
      if (response.status === 307) {
        url = response.headers.get("location")!;
        continue;
      }
      return response.ok ? "ok" : `${response.status} ${text}`;
    }
    return "too many redirects";
  }
}
