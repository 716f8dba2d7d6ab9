import { hostname } from "node:os";
import { Counter, Gauge, type Metric, Registry } from "prom-client";
import { type MetricName, METRIC_CATALOG } from "../../../src/metrics/catalog.js";
import type { Labels, Metrics, MetricsExporter, VaultMetricsJson } from "../../../src/metrics/metrics.js";
import type { TelemetryConfig } from "../../../src/config/types.js";
import { WindowedSummary } from "./windowed-summary.js";

/** The node's metrics in a prom-client registry: Prometheus text from the library, Vault's JSON from its values. */
export class PrometheusMetrics implements MetricsExporter, Metrics {
  readonly metrics: Metrics = this;
  readonly #registry = new Registry();
  readonly #retentionMs: number;
  readonly #series = new Map<MetricName, Metric<string> | WindowedSummary>();

  constructor(telemetry: TelemetryConfig) {
    this.#retentionMs = telemetry.prometheusRetentionMs;
    // Vault adds the host name unless disable_hostname; as a label it keeps one series name per metric.
    if (!telemetry.disableHostname) this.#registry.setDefaultLabels({ host: hostname() });
    // Summaries keep a sliding window of the retention time (at least a minute, at most the default day).
    const maxAgeSeconds = Math.max(60, Math.min(Math.round((this.#retentionMs || 86_400_000) / 1000), 86_400));
    for (const [name, spec] of Object.entries(METRIC_CATALOG) as [MetricName, (typeof METRIC_CATALOG)[MetricName]][]) {
      if (spec.kind === "summary") {
        const summary = new WindowedSummary(name, spec.help, spec.labels, [0.5, 0.9, 0.99], maxAgeSeconds, 5);
        this.#registry.registerMetric(summary as unknown as Metric<string>);
        this.#series.set(name, summary);
        continue;
      }
      const options = { name, help: spec.help, labelNames: [...spec.labels], registers: [this.#registry] };
      const metric = spec.kind === "counter" ? new Counter(options) : new Gauge(options);
      this.#series.set(name, metric as Metric<string>);
    }
  }

  increment(name: MetricName, labels: Labels = {}): void {
    (this.#series.get(name) as Counter).inc(labels, 1);
  }

  setCount(name: MetricName, value: number, labels: Labels = {}): void {
    const counter = this.#series.get(name) as Counter;
    counter.remove(labels);
    counter.inc(labels, value);
  }

  setGauge(name: MetricName, value: number, labels: Labels = {}): void {
    (this.#series.get(name) as Gauge).set(labels, value);
  }

  clearGauge(name: MetricName): void {
    (this.#series.get(name) as Gauge).reset();
  }

  observeMs(name: MetricName, milliseconds: number, labels: Labels = {}): void {
    (this.#series.get(name) as WindowedSummary).observe(labels, milliseconds);
  }

  async prometheus(): Promise<string | null> {
    return this.#retentionMs === 0 ? null : this.#registry.metrics();
  }

  async json(): Promise<VaultMetricsJson> {
    const result: VaultMetricsJson = { Timestamp: new Date().toISOString(), Gauges: [], Counters: [], Samples: [] };
    for (const metric of await this.#registry.getMetricsAsJSON()) {
      const spec = METRIC_CATALOG[metric.name as MetricName];
      if (!spec) continue;
      if (spec.kind === "gauge") {
        for (const { value, labels } of metric.values) result.Gauges.push({ Name: spec.vault, Value: value, Labels: stringLabels(labels) });
      } else if (spec.kind === "counter") {
        for (const { value, labels } of metric.values) result.Counters.push({ Name: spec.vault, Count: value, Sum: value, Labels: stringLabels(labels) });
      } else {
        // A summary's values: quantiles, then `<name>_sum` and `<name>_count` per label set.
        const samples = new Map<string, { Name: string; Count: number; Sum: number; Mean: number; Labels: Labels }>();
        for (const value of metric.values as { value: number; labels: Partial<Record<string, string | number>>; metricName?: string }[]) {
          if (!value.metricName?.endsWith("_sum") && !value.metricName?.endsWith("_count")) continue;
          const labels = stringLabels(value.labels);
          const key = JSON.stringify(labels);
          const sample = samples.get(key) ?? { Name: spec.vault, Count: 0, Sum: 0, Mean: 0, Labels: labels };
          if (value.metricName.endsWith("_sum")) sample.Sum = value.value;
          else sample.Count = value.value;
          sample.Mean = sample.Count ? sample.Sum / sample.Count : 0;
          samples.set(key, sample);
        }
        result.Samples.push(...samples.values());
      }
    }
    return result;
  }
}

function stringLabels(labels: Partial<Record<string, string | number>> = {}): Labels {
  return Object.fromEntries(Object.entries(labels).map(([key, value]) => [key, String(value ?? "")]));
}
