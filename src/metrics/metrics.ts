import type { CounterName, GaugeName, SummaryName } from "./catalog.js";

export type Labels = Record<string, string>;

/** What the core records into; the runtime adapter provides the registry behind it. */
export interface Metrics {
  increment(name: CounterName, labels?: Labels): void;
  /** A count kept elsewhere (the forwarder's), reported as a counter. */
  setCount(name: CounterName, value: number, labels?: Labels): void;
  setGauge(name: GaugeName, value: number, labels?: Labels): void;
  /** Drops every series of a gauge (per-standby series are rebuilt at each scrape). */
  clearGauge(name: GaugeName): void;
  observeMs(name: SummaryName, milliseconds: number, labels?: Labels): void;
}

export const noMetrics: Metrics = {
  increment() {},
  setCount() {},
  setGauge() {},
  clearGauge() {},
  observeMs() {},
};

/** Vault's JSON shape of sys/metrics. */
export interface VaultMetricsJson {
  Timestamp: string;
  Gauges: { Name: string; Value: number; Labels: Labels }[];
  Counters: { Name: string; Count: number; Sum: number; Labels: Labels }[];
  Samples: { Name: string; Count: number; Sum: number; Mean: number; Labels: Labels }[];
}

/** sys/metrics' two formats, from the adapter's registry. */
export interface MetricsExporter {
  readonly metrics: Metrics;
  /** Prometheus text exposition, or null when `prometheus_retention_time` is 0 (Prometheus off). */
  prometheus(): Promise<string | null>;
  json(): Promise<VaultMetricsJson>;
}
