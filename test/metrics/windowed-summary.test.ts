import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { WindowedSummary } from "../../adapters/node/server/windowed-summary.js";

/** A summary over a 60 s window in 5 slots of 12 s, on a clock the test moves. */
function summary() {
  let clock = 1_000_000_000_000;
  const metric = new WindowedSummary("t_ms", "test", ["operation", "mount"], [0.5, 0.9, 0.99], 60, 5, () => clock);
  const quantile = (q: number, labels = { operation: "read", mount: "secret/" }) =>
    metric
      .get()
      .values.find((v) => v.metricName === undefined && v.labels.quantile === q && v.labels.mount === labels.mount && v.labels.operation === labels.operation)
      ?.value;
  const total = (suffix: "_sum" | "_count") => metric.get().values.find((v) => v.metricName === `t_ms${suffix}`)?.value;
  return { metric, quantile, total, advance: (ms: number) => (clock += ms) };
}

describe("WindowedSummary (vault_core_handle_request and storage timings)", () => {
  it("reports the quantiles of what was observed, and the count and sum", () => {
    const { metric, quantile, total } = summary();
    for (let value = 1; value <= 100; value++) metric.observe({ operation: "read", mount: "secret/" }, value);
    expect(quantile(0.5)).toBeCloseTo(50, -1);
    expect(quantile(0.9)).toBeCloseTo(90, -1);
    expect(quantile(0.99)).toBeGreaterThan(95);
    expect(total("_count")).toBe(100);
    expect(total("_sum")).toBe(5050);
  });

  it("reports quantiles within 2 % of the exact ones over values spread across five decades", () => {
    const { metric, quantile } = summary();
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const observed: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const value = 0.01 * 10 ** (5 * random());
      observed.push(value);
      metric.observe({ operation: "read", mount: "secret/" }, value);
    }
    observed.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = observed[Math.ceil(q * observed.length) - 1]!;
      expect(Math.abs(quantile(q)! - exact) / exact, `q=${q}`).toBeLessThan(0.02);
    }
  });

  it("forgets observations older than the window in the quantiles, never in _count and _sum", () => {
    const { metric, quantile, total, advance } = summary();
    for (let i = 0; i < 50; i++) metric.observe({ operation: "read", mount: "secret/" }, 1000);
    advance(30_000);
    for (let i = 0; i < 50; i++) metric.observe({ operation: "read", mount: "secret/" }, 1);
    expect(quantile(0.99)).toBe(1000); // both batches are inside the last 60 s
    advance(45_000); // the first batch is now 75 s old, the second 45 s
    expect(quantile(0.99)).toBe(1);
    expect(quantile(0.5)).toBe(1);
    advance(60_000);
    expect(quantile(0.5)).toBe(0); // nothing left in the window: 0, as prom-client reports an empty summary
    expect(total("_count")).toBe(100);
    expect(total("_sum")).toBe(50 * 1000 + 50);
  });

  it("keeps one series per label set and renders Prometheus text through a registry, default labels included", async () => {
    const { metric } = summary();
    metric.observe({ operation: "read", mount: "secret/" }, 2);
    metric.observe({ operation: "update", mount: "secret/" }, 4);
    const registry = new Registry();
    registry.setDefaultLabels({ host: "node-1" });
    registry.registerMetric(metric as never);
    const text = await registry.metrics();
    expect(text).toContain("# TYPE t_ms summary");
    expect(text).toContain('t_ms{quantile="0.5",operation="read",mount="secret/",host="node-1"} 2');
    expect(text).toContain('t_ms_count{operation="update",mount="secret/",host="node-1"} 1');
    expect(text).toContain('t_ms_sum{operation="update",mount="secret/",host="node-1"} 4');
  });

  it("refuses a label it was not declared with and a value that is not a finite number", () => {
    const { metric } = summary();
    expect(() => metric.observe({ operation: "read", mount: "secret/", extra: "x" }, 1)).toThrow(/unknown label "extra"/);
    expect(() => metric.observe({ operation: "read", mount: "secret/" }, Number.NaN)).toThrow(TypeError);
  });
});
