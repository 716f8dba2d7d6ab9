import { TDigest } from "tdigest";
import type { Labels } from "../../src/metrics/metrics.js";

interface Series {
  labels: Labels;
  count: number;
  sum: number;
  /** One digest per age bucket, each holding only the observations of its own time slot. */
  slots: TDigest[];
  /** The slot number (time ÷ slot length) each digest belongs to. */
  slotNumbers: number[];
}

/**
 * A Prometheus summary over a sliding window (quantiles of the last `maxAgeSeconds`; `_sum` and
 * `_count` since start), registered in a prom-client registry in place of prom-client's Summary.
 * That one pushes every observation into each of its age buckets' digests (five digest inserts per
 * request); here an observation goes into its own slot's digest only, and a scrape merges the live
 * slots. Same window, same quantiles, a fifth of the work where it counts: on every request.
 */
export class WindowedSummary {
  readonly type = "summary";
  readonly aggregator = "sum";
  readonly #series = new Map<string, Series>();
  readonly #slotMs: number;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly percentiles: readonly number[],
    maxAgeSeconds: number,
    private readonly ageBuckets: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#slotMs = (maxAgeSeconds * 1000) / ageBuckets;
  }

  observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: value is not a finite number: ${value}`);
    const series = this.#seriesOf(labels);
    series.count++;
    series.sum += value;
    const slotNumber = Math.floor(this.now() / this.#slotMs);
    const index = slotNumber % this.ageBuckets;
    if (series.slotNumbers[index] !== slotNumber) {
      series.slots[index] = new TDigest();
      series.slotNumbers[index] = slotNumber;
    }
    series.slots[index]!.push(value);
  }

  /** prom-client's metric contract: quantiles, then `_sum` and `_count`, per label set. */
  get(): { name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName?: string }[] } {
    const oldestLive = Math.floor(this.now() / this.#slotMs) - this.ageBuckets + 1;
    const values = [];
    for (const series of this.#series.values()) {
      const window = new TDigest();
      series.slots.forEach((digest, index) => {
        if (series.slotNumbers[index]! >= oldestLive) window.push_centroid(digest.toArray());
      });
      for (const quantile of this.percentiles) {
        values.push({ labels: { quantile, ...series.labels }, value: (window.size() > 0 ? window.percentile(quantile) : 0) || 0 });
      }
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  #seriesOf(labels: Labels): Series {
    let key = "";
    for (const name of this.labelNames) key += `${labels[name] ?? ""}\u0000`;
    let series = this.#series.get(key);
    if (!series) {
      for (const name of Object.keys(labels)) {
        if (!this.labelNames.includes(name)) throw new Error(`${this.name}: unknown label "${name}"`);
      }
      const own: Labels = {};
      for (const name of this.labelNames) if (labels[name] !== undefined) own[name] = labels[name]!;
      series = { labels: own, count: 0, sum: 0, slots: [], slotNumbers: [] };
      this.#series.set(key, series);
    }
    return series;
  }
}
