import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";

const ROOT = "metrics-root-token";

describe("sys/metrics on a dev server", () => {
  let server: ServerProcess;
  const call = async (method: string, path: string, body?: unknown, token = ROOT) => {
    const response = await fetch(`${server.apiAddr}/v1/${path}`, {
      method,
      headers: token ? { "x-vault-token": token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
  const scrape = async () => {
    const reply = await call("GET", "sys/metrics?format=prometheus");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(reply.text);
  };

  beforeAll(async () => {
    server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${ROOT}`]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("needs a token allowed to read sys/metrics", async () => {
    expect((await call("GET", "sys/metrics", undefined, "")).status).toBe(403);
    expect((await call("PUT", "sys/policies/acl/scraper", { policy: 'path "sys/metrics" { capabilities = ["read"] }' })).status).toBe(204);
    expect((await call("PUT", "sys/policies/acl/other", { policy: 'path "secret/*" { capabilities = ["read"] }' })).status).toBe(204);
    const scraper = JSON.parse((await call("POST", "auth/token/create", { policies: ["scraper"] })).text).auth.client_token;
    const other = JSON.parse((await call("POST", "auth/token/create", { policies: ["other"] })).text).auth.client_token;
    expect((await call("GET", "sys/metrics", undefined, other)).status).toBe(403);
    expect((await call("GET", "sys/metrics?format=prometheus", undefined, scraper)).status).toBe(200);
  });

  it("Prometheus text parses strictly and request counters move with requests", async () => {
    const before = await scrape();
    expect(before.types.get("vault_core_handle_request")).toBe("summary");
    expect(before.types.get("vault_core_active")).toBe("gauge");
    expect(before.types.get("vault_audit_log_request_failure")).toBe("counter");
    const readsBefore = sampleValue(before.samples, "vault_core_handle_request_count", { operation: "read", mount: "secret/" }) ?? 0;
    const storageBefore = sampleValue(before.samples, "strongbox_storage_operation_count", { backend: "inmem", operation: "put" }) ?? 0;
    await call("POST", "secret/data/counted", { data: { a: "1" } });
    for (let i = 0; i < 3; i++) expect((await call("GET", "secret/data/counted")).status).toBe(200);

    const after = await scrape();
    expect(sampleValue(after.samples, "vault_core_handle_request_count", { operation: "read", mount: "secret/" })).toBe(readsBefore + 3);
    expect(sampleValue(after.samples, "vault_core_handle_request_count", { operation: "update", mount: "secret/" })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after.samples, "strongbox_storage_operation_count", { backend: "inmem", operation: "put" })).toBeGreaterThan(storageBefore);
    expect(sampleValue(after.samples, "vault_core_active")).toBe(1);
    // The reads after the write come from the active node's storage cache.
    expect(sampleValue(after.samples, "vault_cache_hit")).toBeGreaterThan(sampleValue(before.samples, "vault_cache_hit")!);
    expect(sampleValue(after.samples, "vault_core_standby")).toBe(0);
    expect(sampleValue(after.samples, "vault_core_unsealed")).toBe(1);
    // Paths no mount serves share one label: a client cannot create series at will.
    await call("GET", "no-such-mount/a");
    await call("GET", "no-such-mount/b");
    const unmatched = (await scrape()).samples.filter((s) => s.name === "vault_core_handle_request_count" && s.labels.mount?.startsWith("no-such"));
    expect(unmatched).toEqual([]);
  });

  it("counts login failures per auth mount", async () => {
    expect((await call("POST", "sys/auth/userpass", { type: "userpass" })).status).toBe(204);
    expect((await call("POST", "auth/userpass/users/alice", { password: "right" })).status).toBe(204);
    expect((await call("POST", "auth/userpass/login/alice", { password: "wrong" }, "")).status).toBe(400);
    expect((await call("POST", "auth/userpass/login/alice", { password: "wrong" }, "")).status).toBe(400);
    expect(sampleValue((await scrape()).samples, "strongbox_login_failures_total", { mount: "auth/userpass/" })).toBe(2);
  });

  it("answers Vault's JSON shape by default, and refuses other formats and methods", async () => {
    const reply = await call("GET", "sys/metrics");
    expect(reply.status).toBe(200);
    const body = JSON.parse(reply.text);
    expect(Object.keys(body).sort()).toEqual(["Counters", "Gauges", "Samples", "Timestamp"]);
    expect(body.Gauges).toContainEqual(expect.objectContaining({ Name: "vault.core.active", Value: 1 }));
    const requests = body.Samples.find((s: any) => s.Name === "vault.core.handle_request" && s.Labels.mount === "secret/" && s.Labels.operation === "read");
    expect(requests.Count).toBeGreaterThanOrEqual(3);
    expect(requests.Mean).toBeCloseTo(requests.Sum / requests.Count);
    const bad = await call("GET", "sys/metrics?format=xml");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).errors[0]).toMatch(/allowed: prometheus, json/);
    expect((await call("POST", "sys/metrics", {})).status).toBe(405);
  });
});
