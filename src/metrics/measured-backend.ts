import type { Backend } from "../physical/backend.js";
import type { Metrics } from "./metrics.js";

const MEASURED = new Set<PropertyKey>(["get", "put", "delete", "list"]);

/**
 * `inner` with the latency and failures of its storage operations recorded, per backend type and
 * operation. A proxy rather than a wrapper class: everything else (the HA lock, `fencedBy`, whose
 * fenced view is measured too) passes through, so the node sees the same capabilities.
 */
export function measuredBackend<T extends Backend>(inner: T, backend: string, metrics: Metrics): T {
  return new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "fencedBy") return (...args: unknown[]) => measuredBackend(value.apply(target, args) as Backend, backend, metrics);
      if (!MEASURED.has(property)) return value.bind(target);
      const operation = String(property);
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await value.apply(target, args);
        } catch (error) {
          metrics.increment("strongbox_storage_errors_total", { backend, operation });
          throw error;
        } finally {
          metrics.observeMs("strongbox_storage_operation", performance.now() - started, { backend, operation });
        }
      };
    },
  });
}
