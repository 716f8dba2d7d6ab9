import type { Core } from "../core.js";
import { LogicalError } from "../sdk/types.js";
import { recordNodeState } from "../metrics/node-gauges.js";
import type { MetricsExporter } from "../metrics/metrics.js";
import { METRICS_PATH } from "../request/router.js";
import { errorResponse, json } from "./respond.js";

export { METRICS_PATH };

const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsRequest {
  method: string;
  query: URLSearchParams;
  token: string;
  clientAddress?: string;
  clientPort?: number;
  /** The listener's `telemetry { unauthenticated_metrics_access = true }`. */
  unauthenticated: boolean;
}

/**
 * sys/metrics: this node's own metrics, answered by every node (a standby does not forward it).
 * Needs a token allowed to read sys/metrics unless the listener opens it.
 */
export async function serveMetrics(core: Core, exporter: MetricsExporter | undefined, request: MetricsRequest): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") throw new LogicalError(405, `unsupported operation on path "${METRICS_PATH}"`);
  const format = request.query.get("format") ?? "";
  if (format !== "" && format !== "json" && format !== "prometheus")
    throw new LogicalError(400, `unsupported metrics format ${JSON.stringify(format)} (allowed: prometheus, json)`);
  if (!request.unauthenticated) {
    const { token, clientAddress, clientPort } = request;
    await core.requests.handle({ operation: "read", path: METRICS_PATH, data: {}, token, clientAddress, clientPort });
  }
  if (!exporter) return errorResponse(404, "metrics are not collected on this runtime");
  recordNodeState(core, exporter.metrics);
  if (format !== "prometheus") return json(await exporter.json());
  const text = await exporter.prometheus();
  if (text === null) return errorResponse(400, "prometheus is not enabled: set telemetry { prometheus_retention_time } to a non-zero duration");
  return new Response(text, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" } });
}
