/** What the launcher knows of each node, polled from their APIs, and when leadership last moved. */
import { callNode } from "./node-api.js";
import type { ClusterNode } from "./node-process.js";

export type NodeState = "starting" | "sealed" | "standby" | "active" | "unreachable" | "down";

export interface NodeView {
  name: string;
  pid: number | null;
  apiAddr: string;
  clusterAddr: string;
  state: NodeState;
  /** Requests this standby forwarded to the active, as the active's sys/ha-status reports them. */
  forwarded: number | null;
  /** Requests per second this node handled since the previous poll (its sys/metrics), the launcher's own left out. */
  requestRate: number | null;
  /** What the launcher is doing about the node (restarting it, gave up, …), or "". */
  note: string;
}

export interface Failover {
  /** When the new active took the lock (its sys/leader active_time). */
  at: Date;
  from: string;
  to: string;
  /** From the old active's exit (or the last poll that saw it active) to the new one taking over. */
  tookMs: number;
}

export interface ClusterView {
  nodes: NodeView[];
  lastFailover: Failover | null;
}

const PROBE_TIMEOUT_MS = 1_000;

export class ClusterMonitor {
  #lastActive: { name: string; pid: number; seenAt: number } | null = null;
  #lastFailover: Failover | null = null;
  readonly #forwarded = new Map<string, { pid: number; count: number }>();
  /** Per node: its handled-request count at the previous poll, and the token requests the launcher itself sent it since. */
  readonly #handled = new Map<string, { pid: number; count: number; at: number; own: number }>();

  constructor(
    private readonly nodes: ClusterNode[],
    private readonly rootToken: string,
    /** The launcher's own word on a node: "starting" while it brings the node up, and a note. */
    private readonly launcherView: (node: ClusterNode) => { starting: boolean; note: string },
  ) {}

  get lastFailover(): Failover | null {
    return this.#lastFailover;
  }

  async poll(): Promise<ClusterView> {
    const polledAt = Date.now();
    const states = await Promise.all(this.nodes.map((node) => this.#probe(node)));
    const activeIndex = states.indexOf("active");
    if (activeIndex !== -1) await this.#observeActive(this.nodes[activeIndex]!, polledAt);
    const rates = await Promise.all(this.nodes.map((node, i) => (states[i] === "active" || states[i] === "standby" ? this.#requestRate(node) : null)));
    return {
      nodes: this.nodes.map((node, i) => ({
        name: node.name,
        pid: node.pid,
        apiAddr: node.apiAddr,
        clusterAddr: node.clusterAddr,
        state: states[i]!,
        forwarded: states[i] === "standby" ? this.#forwardedBy(node) : null,
        requestRate: rates[i] ?? null,
        note: this.launcherView(node).note,
      })),
      lastFailover: this.#lastFailover,
    };
  }

  async #probe(node: ClusterNode): Promise<NodeState> {
    if (!node.running) return "down";
    if (this.launcherView(node).starting) return "starting";
    try {
      // Codes chosen so every state answers 200 with the same body.
      const { body } = await callNode(node.apiAddr, "GET", "sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200", {
        timeoutMs: PROBE_TIMEOUT_MS,
      });
      if (!body.initialized || body.sealed) return "sealed";
      return body.standby ? "standby" : "active";
    } catch {
      return "unreachable";
    }
  }

  async #observeActive(active: ClusterNode, polledAt: number): Promise<void> {
    const pid = active.pid;
    if (pid === null) return; // died since the probe; the next poll sees who took over
    const previous = this.#lastActive;
    this.#lastActive = { name: active.name, pid, seenAt: polledAt };
    await this.#readForwardingCounts(active).catch(() => {}); // shown as before until the next poll
    if (!previous || previous.pid === pid) return;
    const leader = await callNode(active.apiAddr, "GET", "sys/leader", { timeoutMs: PROBE_TIMEOUT_MS }).catch(() => null);
    const takenAt = Date.parse(leader?.body?.active_time ?? "");
    if (Number.isNaN(takenAt)) return;
    const oldNode = this.nodes.find((node) => node.name === previous.name);
    const exit = oldNode?.lastExit?.pid === previous.pid ? oldNode.lastExit : null;
    const lostAt = exit && exit.at >= previous.seenAt ? exit.at : previous.seenAt;
    this.#lastFailover = { at: new Date(takenAt), from: previous.name, to: active.name, tookMs: Math.max(0, takenAt - lostAt) };
  }

  /** From the node's own sys/metrics (Vault's JSON): requests it handled, per second since the last poll. */
  async #requestRate(node: ClusterNode): Promise<number | null> {
    if (node.pid === null) return null;
    this.#countOwnRequest(node);
    const reply = await callNode(node.apiAddr, "GET", "sys/metrics", { token: this.rootToken, timeoutMs: PROBE_TIMEOUT_MS }).catch(() => null);
    if (reply?.status !== 200) return null;
    const samples: { Name: string; Count: number }[] = reply.body?.Samples ?? [];
    const count = samples.filter((s) => s.Name === "vault.core.handle_request").reduce((sum, s) => sum + s.Count, 0);
    const now = Date.now();
    const previous = this.#handled.get(node.name);
    this.#handled.set(node.name, { pid: node.pid, count, at: now, own: 0 });
    if (!previous || previous.pid !== node.pid || now <= previous.at) return null;
    return Math.max(0, count - previous.count - previous.own) / ((now - previous.at) / 1000);
  }

  /** A request the launcher makes with its token: counted by the node, left out of the rate shown. */
  #countOwnRequest(node: ClusterNode): void {
    const handled = this.#handled.get(node.name);
    if (handled && handled.pid === node.pid) handled.own++;
  }

  async #readForwardingCounts(active: ClusterNode): Promise<void> {
    this.#countOwnRequest(active);
    const { status, body } = await callNode(active.apiAddr, "GET", "sys/ha-status", { token: this.rootToken, timeoutMs: PROBE_TIMEOUT_MS });
    if (status !== 200) return;
    for (const entry of body.data?.nodes ?? []) {
      const node = this.nodes.find((n) => n.apiAddr === entry.api_address);
      if (node && !entry.active_node && node.pid !== null) {
        this.#forwarded.set(node.name, { pid: node.pid, count: Number(entry.forwarded_requests ?? 0) });
      }
    }
  }

  /** A restarted standby starts counting from 0 again. */
  #forwardedBy(node: ClusterNode): number {
    const known = this.#forwarded.get(node.name);
    return known && known.pid === node.pid ? known.count : 0;
  }
}
