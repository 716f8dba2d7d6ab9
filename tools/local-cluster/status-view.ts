/**
 * The status view: on a terminal, a table redrawn in place; otherwise (a pipe, a file, CI) plain
 * lines, written only when something changed.
 */
import type { ClusterView, Failover, NodeView } from "./status.js";

export interface StatusView {
  show(view: ClusterView): void;
}

export function createStatusView(out: NodeJS.WriteStream): StatusView {
  return out.isTTY ? new TerminalStatusView(out) : new LineStatusView(out);
}

class TerminalStatusView implements StatusView {
  #linesShown = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  show(view: ClusterView): void {
    const rows = [
      ["NODE", "STATE", "PID", "API ADDRESS", "CLUSTER ADDRESS", "FORWARDED", "REQ/S", ""],
      ...view.nodes.map((n) => [
        n.name,
        n.state,
        n.pid === null ? "-" : String(n.pid),
        n.apiAddr,
        n.clusterAddr,
        n.forwarded === null ? "-" : String(n.forwarded),
        formatRate(n.requestRate),
        n.note,
      ]),
    ];
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    const table = rows.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ")}`.trimEnd());
    const lines = [
      ...table,
      "",
      `  last failover: ${view.lastFailover ? describeFailover(view.lastFailover) : "none yet"}`,
      `  ${clock(new Date())} · a killed node is restarted and unsealed after a few seconds · Ctrl-C stops the cluster`,
    ];
    // Cut to the terminal's width: a wrapped line would throw off the redraw.
    const width = this.out.columns || 120;
    const text = lines.map((line) => (line.length > width ? `${line.slice(0, width - 1)}…` : line)).join("\n");
    // Back to where the last drawing started, clear it and everything below, draw anew.
    const rewind = this.#linesShown > 0 ? `\x1b[${this.#linesShown}F\x1b[J` : "";
    this.out.write(`${rewind}${text}\n`);
    this.#linesShown = lines.length;
  }
}

class LineStatusView implements StatusView {
  readonly #lastNodeLine = new Map<string, string>();
  #lastForwarded = "";
  #lastFailover: Failover | null = null;

  constructor(private readonly out: NodeJS.WriteStream) {}

  show(view: ClusterView): void {
    const lines: string[] = [];
    for (const node of view.nodes) {
      const line = describeNode(node);
      if (this.#lastNodeLine.get(node.name) !== line) lines.push(line);
      this.#lastNodeLine.set(node.name, line);
    }
    if (view.lastFailover && view.lastFailover !== this.#lastFailover) lines.push(`failover: ${describeFailover(view.lastFailover)}`);
    this.#lastFailover = view.lastFailover;
    const standbys = view.nodes.filter((n) => n.forwarded !== null);
    const forwarded = standbys.length > 0 ? `requests forwarded by standbys: ${standbys.map((n) => `${n.name} ${n.forwarded}`).join(", ")}` : "";
    if (forwarded && forwarded !== this.#lastForwarded) lines.push(forwarded);
    this.#lastForwarded = forwarded || this.#lastForwarded;
    const stamp = clock(new Date());
    for (const line of lines) this.out.write(`[${stamp}] ${line}\n`);
  }
}

function describeNode(node: NodeView): string {
  const pid = node.pid === null ? "" : ` pid ${node.pid}`;
  return `${node.name} ${node.state}${pid} api ${node.apiAddr} cluster ${node.clusterAddr}${node.note ? ` (${node.note})` : ""}`;
}

export function describeFailover(failover: Failover): string {
  return `${clock(failover.at)}, ${failover.from} → ${failover.to}, took ${(failover.tookMs / 1000).toFixed(2)} s`;
}

/** Requests per second as the table shows it: "-" before two polls have been seen. */
export function formatRate(rate: number | null): string {
  return rate === null ? "-" : rate.toFixed(1);
}

export function clock(date: Date): string {
  return date.toTimeString().slice(0, 8);
}
