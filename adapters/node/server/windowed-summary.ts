import type { Labels } from "../../../src/metrics/metrics.js";

/**
 * Relative width of a histogram bucket: values within 2 % of each other share one, so a reported
 * quantile is within about 1 % of an observed value (and exact when the bucket holds one value).
 */
const BUCKET_GROWTH = 1.02;
const BUCKETS_PER_E = 1 / Math.log(BUCKET_GROWTH);
/** Zero and below (a clock that did not move) share one bucket under every positive one. */
const NON_POSITIVE = Number.MIN_SAFE_INTEGER;

/** Observations of one time slot: count and sum per logarithmic bucket. */
type Histogram = Map<number, { count: number; sum: number }>;

interface Series {
  labels: Labels;
  count: number;
  sum: number;
  /** One histogram per age bucket, each holding only the observations of its own time slot. */
  slots: Histogram[];
  /** The slot number (time ÷ slot length) each histogram belongs to. */
  slotNumbers: number[];
}

/**
 * A Prometheus summary over a sliding window (quantiles of the last `maxAgeSeconds`; `_sum` and
 * `_count` since start), registered in a prom-client registry in place of prom-client's Summary.
 * That one pushes every observation into each of its age buckets' t-digests (five digest inserts
 * per request); here an observation adds one to a bucket of its own time slot's log-scale histogram
 * (a map update, no tree to walk), and a scrape merges the live slots. The histogram's buckets are
 * 2 % wide and report the mean of what fell in them, so quantiles are as close as a digest's; its
 * size is bounded by the range of values (a few hundred buckets per decade of ratio, at most).
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
      series.slots[index] = new Map();
      series.slotNumbers[index] = slotNumber;
    }
    const histogram = series.slots[index]!;
    const bucket = value > 0 ? Math.floor(Math.log(value) * BUCKETS_PER_E) : NON_POSITIVE;
    const totals = histogram.get(bucket);
    if (totals) {
      totals.count++;
      totals.sum += value;
    } else {
      histogram.set(bucket, { count: 1, sum: value });
    }
  }

  /** prom-client's metric contract: quantiles, then `_sum` and `_count`, per label set. */
  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
  } {
    const oldestLive = Math.floor(this.now() / this.#slotMs) - this.ageBuckets + 1;
    const values = [];
    for (const series of this.#series.values()) {
      const window: Histogram = new Map();
      series.slots.forEach((histogram, index) => {
        if (series.slotNumbers[index]! < oldestLive) return;
        for (const [bucket, { count, sum }] of histogram) {
          const totals = window.get(bucket) ?? { count: 0, sum: 0 };
          window.set(bucket, { count: totals.count + count, sum: totals.sum + sum });
        }
      });
      for (const quantile of this.percentiles) {
        values.push({ labels: { quantile, ...series.labels }, value: quantileOf(window, quantile) });
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

/** The mean of the bucket holding the observation of rank ⌈q·n⌉; 0 for no observations, as prom-client reports an empty summary. */
function quantileOf(histogram: Histogram, quantile: number): number {
  let total = 0;
  for (const { count } of histogram.values()) total += count;
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(quantile * total));
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    const { count, sum } = histogram.get(bucket)!;
    seen += count;
    if (seen >= rank) return sum / count;
  }
  return 0; // not reached: the last bucket brings `seen` to `total`
}
