import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, startCluster, waitFor } from "../helpers/cluster.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";

/** This node's metrics, scraped without a token (the listeners open sys/metrics). */
async function scrape(node: ClusterNode) {
  const response = await fetch(`http://127.0.0.1:${node.port}/v1/sys/metrics?format=prometheus`, { redirect: "manual" });
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text()).samples;
}

describe("sys/metrics in an HA cluster", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  let standby: ClusterNode;

  beforeAll(async () => {
    cluster = await startCluster(
      { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") },
      {
        size: 2,
        nodeSetup: () => ({ listenerConfig: "telemetry { unauthenticated_metrics_access = true }" }),
        extraConfig: "telemetry {\n  disable_hostname = true\n  prometheus_retention_time = \"1h\"\n}\n",
      },
    );
    active = await cluster.waitForActive();
    standby = cluster.nodes.find((node) => node !== active)!;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("a standby reports itself as standby with its forwarding counters; the active sees its heartbeats", async () => {
    const before = await scrape(standby);
    expect(sampleValue(before, "vault_core_standby")).toBe(1);
    expect(sampleValue(before, "vault_core_active")).toBe(0);
    expect(sampleValue(before, "vault_core_unsealed")).toBe(1);
    // disable_hostname: no host label.
    expect(before.every((sample) => !("host" in sample.labels))).toBe(true);
    const forwardedBefore = sampleValue(before, "strongbox_ha_forwarded_requests_total") ?? 0;

    for (let i = 0; i < 3; i++) expect((await api(standby, "GET", "sys/mounts", undefined, cluster.rootToken)).status).toBe(200);
    const after = await scrape(standby);
    expect(sampleValue(after, "strongbox_ha_forwarded_requests_total")).toBe(forwardedBefore + 3);
    expect(sampleValue(after, "strongbox_ha_forwarding_fallbacks_total")).toBe(0);
    // Served by the active: the standby handled none of them itself.
    expect(sampleValue(after, "vault_core_handle_request_count", { operation: "read", mount: "sys/" })).toBeUndefined();

    const onActive = await waitFor(async () => {
      const samples = await scrape(active);
      return samples.some((s) => s.name === "strongbox_ha_standby_heartbeat_age_seconds") ? samples : null;
    }, 15_000, "a standby's heartbeat age on the active");
    expect(sampleValue(onActive, "vault_core_active")).toBe(1);
    expect(sampleValue(onActive, "strongbox_ha_lock_acquisitions_total")).toBe(1);
    expect(sampleValue(onActive, "vault_core_handle_request_count", { operation: "read", mount: "sys/" })).toBeGreaterThanOrEqual(3);
    const ages = onActive.filter((s) => s.name === "strongbox_ha_standby_heartbeat_age_seconds");
    expect(ages).toHaveLength(1);
    expect(ages[0]!.value).toBeGreaterThanOrEqual(0);
    expect(sampleValue(onActive, "strongbox_storage_operation_count", { backend: "s3", operation: "get" })).toBeGreaterThan(0);
  });

  it("a standby's sys/metrics is its own, not forwarded, also with a token", async () => {
    const response = await api(standby, "GET", "sys/metrics", undefined, cluster.rootToken);
    expect(response.status).toBe(200);
    expect(response.body.Gauges).toContainEqual({ Name: "vault.core.standby", Value: 1, Labels: {} });
  });
});
