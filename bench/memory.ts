import type { BenchReport } from "./report.js";
import { round } from "./stats.js";

const IDLE_TARGET_MB = 120;
const LOADED_TARGET_MB = 250;

interface Sample {
  process: string;
  state: "idle" | "under load";
  rssMB: number;
  load?: string;
}

/** Collects RSS readings from the throughput benchmarks and reports them against the targets. */
export class MemoryRecorder {
  readonly samples: Sample[] = [];

  idle(process: string, rssMB: number): void {
    this.samples.push({ process, state: "idle", rssMB: round(rssMB, 1) });
  }

  loaded(process: string, rssMB: number, load: string): void {
    this.samples.push({ process, state: "under load", rssMB: round(rssMB, 1), load });
  }

  report(): BenchReport {
    return {
      name: "memory",
      title: "Memory: resident set size (VmRSS) of a node",
      columns: ["node", "state", "RSS (MB)", "target", "met"],
      rows: this.samples.map((s) => {
        const target = s.state === "idle" ? IDLE_TARGET_MB : LOADED_TARGET_MB;
        return [s.process, s.load ? `${s.state}: ${s.load}` : s.state, s.rssMB, `≤ ${target} MB`, s.rssMB <= target ? "yes" : "**no**"];
      }),
      notes: [
        "Idle: read once the node has served its set-up requests and sat still. Under load: the peak of readings every 200 ms during the load runs.",
        "The cluster nodes read their HCL config with the in-process parser (src/sdk/hcl.ts), which keeps no state once the file is read.",
      ],
      data: { samples: this.samples },
    };
  }
}
