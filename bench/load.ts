import autocannon from "autocannon";
import { median, percentile, round } from "./stats.js";

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  /** GET without a body unless given (a POST load sends `body` with every request). */
  method?: "GET" | "POST";
  body?: string;
  connections: number;
  durationSeconds: number;
}

export interface LoadResult {
  /** 2xx answers per second over the whole run. */
  requestsPerSecond: number;
  /** Latency percentiles in ms, from every response's own timing (autocannon's histogram keeps whole ms only). */
  p50: number;
  p99: number;
  mean: number;
  requests: number;
  /** Connection errors plus non-2xx answers: any makes the run invalid. */
  failures: number;
  /** 2xx answers per target, in the order given (a load spread over nodes: who answered how much). */
  perTarget: number[];
}

/** One closed-loop autocannon run (fixed connections, no pipelining). */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  return runLoads([options]);
}

/** Closed-loop autocannon runs against several targets at once, summed into one result (e.g. a load spread over nodes). */
export async function runLoads(targets: LoadOptions[]): Promise<LoadResult> {
  const latencies: number[] = [];
  const results = await runAutocannon(targets, latencies);
  for (const [index, result] of results.entries()) {
    if (result["2xx"] === 0) throw new Error(`no 2xx answers from ${targets[index]!.url} (errors ${result.errors}, non-2xx ${result.non2xx})`);
  }
  const ok = results.reduce((sum, result) => sum + result["2xx"], 0);
  const duration = Math.max(...results.map((result) => result.duration));
  return {
    requestsPerSecond: round(ok / duration, 0),
    p50: round(percentile(latencies, 50), 3),
    p99: round(percentile(latencies, 99), 3),
    mean: round(latencies.reduce((sum, value) => sum + value, 0) / latencies.length, 3),
    requests: ok,
    failures: results.reduce((sum, result) => sum + result.errors + result.non2xx, 0),
    perTarget: results.map((result) => result["2xx"]),
  };
}

/** A run whose figures are thrown away (JIT, connections, caches), so a target slow to answer at first is no error. */
export async function warmUp(targets: LoadOptions[]): Promise<void> {
  await runAutocannon(targets, []);
}

/** Runs autocannon against every target at once; pushes each 2xx answer's latency (ms). */
function runAutocannon(targets: LoadOptions[], latencies: number[]): Promise<autocannon.Result[]> {
  return Promise.all(
    targets.map(
      (options) =>
        new Promise<autocannon.Result>((resolve, reject) => {
          const instance = autocannon(
            {
              url: options.url,
              headers: options.headers,
              ...(options.method ? { method: options.method, body: options.body } : {}),
              connections: options.connections,
              pipelining: 1,
              duration: options.durationSeconds,
            },
            (error, done) => (error ? reject(error) : resolve(done)),
          );
          instance.on("response", (_client, statusCode, _bytes, responseTime) => {
            if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
          });
        }),
    ),
  );
}

/** The median of each figure over several runs of one target. */
export function medianOf(runs: LoadResult[]): LoadResult {
  const pick = (field: Exclude<keyof LoadResult, "perTarget">) => median(runs.map((run) => run[field]));
  return {
    requestsPerSecond: pick("requestsPerSecond"),
    p50: pick("p50"),
    p99: pick("p99"),
    mean: pick("mean"),
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    failures: runs.reduce((sum, run) => sum + run.failures, 0),
    perTarget: runs[0]!.perTarget.map((_, index) => runs.reduce((sum, run) => sum + run.perTarget[index]!, 0)),
  };
}
