import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, type Cluster, type ClusterNode, startCluster, waitFor } from "../helpers/cluster.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";

let cluster: Cluster;

/** This node's metrics, scraped with the root token. */
async function scrape(node: ClusterNode) {
  const response = await fetch(`http://127.0.0.1:${node.port}/v1/sys/metrics?format=prometheus`, {
    redirect: "manual",
    headers: { "x-vault-token": cluster.rootToken },
  });
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text()).samples;
}

describe("sys/metrics in an HA cluster", () => {
  let active: ClusterNode;
  let standby: ClusterNode;

  beforeAll(async () => {
    cluster = await startCluster(
      { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") },
      {
        size: 2,
        // Only node 0's listener opens sys/metrics to anyone.
        nodeSetup: ({ index }) => (index === 0 ? { listenerConfig: "telemetry { unauthenticated_metrics_access = true }" } : {}),
        extraConfig: 'telemetry {\n  disable_hostname = true\n  prometheus_retention_time = "1h"\n}\n',
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

    // Not a sys/ path: the scrapes themselves are sys/ reads the standby does handle. A standby answers
    // reads itself by default; the client asks for the active (Vault Enterprise's header) to have them forwarded.
    const toActive = { "X-Vault-Forward": "active-node" };
    for (let i = 0; i < 3; i++) expect((await api(standby, "GET", "auth/token/lookup-self", undefined, cluster.rootToken, toActive)).status).toBe(200);
    const after = await scrape(standby);
    expect(sampleValue(after, "strongbox_ha_forwarded_requests_total")).toBe(forwardedBefore + 3);
    expect(sampleValue(after, "strongbox_ha_forwarding_fallbacks_total")).toBe(0);
    // Served by the active: the standby handled none of them itself.
    expect(sampleValue(after, "vault_core_handle_request_count", { operation: "read", mount: "auth/token/" })).toBeUndefined();

    const onActive = await waitFor(
      async () => {
        const samples = await scrape(active);
        return samples.some((s) => s.name === "strongbox_ha_standby_heartbeat_age_seconds") ? samples : null;
      },
      15_000,
      "a standby's heartbeat age on the active",
    );
    expect(sampleValue(onActive, "vault_core_active")).toBe(1);
    expect(sampleValue(onActive, "strongbox_ha_lock_acquisitions_total")).toBe(1);
    expect(sampleValue(onActive, "vault_core_handle_request_count", { operation: "read", mount: "auth/token/" })).toBeGreaterThanOrEqual(3);
    const ages = onActive.filter((s) => s.name === "strongbox_ha_standby_heartbeat_age_seconds");
    expect(ages).toHaveLength(1);
    expect(ages[0]!.value).toBeGreaterThanOrEqual(0);
    expect(sampleValue(onActive, "strongbox_storage_operation_count", { backend: "s3", operation: "get" })).toBeGreaterThan(0);
  });

  it("needs a token unless the listener opens sys/metrics", async () => {
    const [open, closed] = cluster.nodes;
    expect((await fetch(`http://127.0.0.1:${open!.port}/v1/sys/metrics?format=prometheus`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${closed!.port}/v1/sys/metrics?format=prometheus`)).status).toBe(403);
  });

  it("a standby's sys/metrics is its own, not forwarded, and writes nothing", async () => {
    if (standby === cluster.nodes[0]) {
      // The token must be checked: make the node whose listener asks for one the standby.
      expect((await api(active, "PUT", "sys/step-down", undefined, cluster.rootToken)).status).toBe(204);
      active = await cluster.waitForActive({ not: active });
      standby = cluster.nodes[1]!;
      await waitFor(async () => ((await api(standby, "GET", "sys/leader")).body.is_self === false ? true : null), 15_000, "node 1 to be a standby");
    }
    const response = await api(standby, "GET", "sys/metrics", undefined, cluster.rootToken);
    expect(response.status).toBe(200);
    expect(response.body.Gauges).toContainEqual({ Name: "vault.core.standby", Value: 1, Labels: {} });
    // Counting a limited-use token's uses would be a write, which only the active makes.
    const limited = (await api(active, "POST", "auth/token/create", { num_uses: 3 }, cluster.rootToken)).body.auth.client_token;
    const refused = await api(standby, "GET", "sys/metrics", undefined, limited);
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0]).toMatch(/limited uses cannot be used on a standby/);
  });

  it("a standby's sys/metrics follows policies and tokens changed on the active, not what it loaded at unseal", async () => {
    // Node 0's listener opens sys/metrics to anyone: the token is checked on node 1, the standby since the test above.
    expect(standby).toBe(cluster.nodes[1]);
    const scrapeStatus = async (token: string) => (await api(standby, "GET", "sys/metrics", undefined, token)).status;
    const untilStatus = (token: string, status: number, what: string) =>
      waitFor(async () => ((await scrapeStatus(token)) === status ? true : null), 15_000, what);
    const writePolicy = async (policy: string) =>
      expect((await api(active, "PUT", "sys/policies/acl/scraper", { policy }, cluster.rootToken)).status).toBe(204);

    await writePolicy('path "sys/metrics" { capabilities = ["read"] }');
    const scraper = (await api(active, "POST", "auth/token/create", { policies: ["scraper"] }, cluster.rootToken)).body.auth.client_token;
    await untilStatus(scraper, 200, "the standby to serve a token allowed to read sys/metrics");

    await writePolicy('path "sys/metrics" { capabilities = ["deny"] }');
    await untilStatus(scraper, 403, "the standby to refuse once the policy denies sys/metrics");
    await writePolicy('path "sys/metrics" { capabilities = ["read"] }');
    await untilStatus(scraper, 200, "the standby to serve again once the policy allows it");
    expect((await api(active, "DELETE", "sys/policies/acl/scraper", undefined, cluster.rootToken)).status).toBe(204);
    await untilStatus(scraper, 403, "the standby to refuse once the policy is deleted");

    const revoked = (await api(active, "POST", "auth/token/create", { policies: ["root"] }, cluster.rootToken)).body.auth.client_token;
    await untilStatus(revoked, 200, "the standby to serve a root child token");
    expect((await api(active, "POST", "auth/token/revoke", { token: revoked }, cluster.rootToken)).status).toBe(204);
    await untilStatus(revoked, 403, "the standby to refuse a revoked token");
  });
});
