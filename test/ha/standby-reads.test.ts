import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { api, type Cluster, type ClusterNode, waitFor } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";

/** A standby that answers locally never needs the active: with forwarding refused, it answers anyway. */
const LOCAL_ONLY = { "X-Vault-No-Request-Forwarding": "true" };

/**
 * Three real node processes (S3 data, DynamoDB lock) with no `standby_reads` key in their config:
 * standby reads are the default.
 */
describe("standby reads", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  let standbys: ClusterNode[];

  beforeAll(async () => {
    // A long lease: these tests are about reads, and a loaded machine must not move leadership under them.
    ({ cluster, active } = await startKvCluster({
      lockOptions: { ha_lease_duration: "6s", ha_renew_interval: "1s", ha_retry_interval: "500ms" },
    }));
  }, 90_000);

  beforeEach(async () => {
    active = await cluster.waitForActive();
    standbys = cluster.nodes.filter((node) => node !== active);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const root = () => cluster.rootToken;

  /** A node's Prometheus samples, scraped with the root token (a standby answers sys/metrics itself). */
  const scrape = async (node: ClusterNode) => {
    const response = await fetch(`http://127.0.0.1:${node.port}/v1/sys/metrics?format=prometheus`, { headers: { "x-vault-token": root() } });
    expect(response.status).toBe(200);
    return parsePrometheusText(await response.text()).samples;
  };

  it("by default answers a KV read on a standby without forwarding it, audits it there, and never serves a value older than an acknowledged write", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strongbox-standby-reads-"));
    const auditFile = join(dir, "audit.log");
    try {
      expect((await api(active, "PUT", "sys/audit/file", { type: "file", options: { file_path: auditFile } }, root())).status).toBe(204);
      expect((await api(active, "PUT", "secret/data/default", { data: { n: 0, password: "standby-read-secret" } }, root())).status).toBe(200);
      const forwardedBefore = await Promise.all(standbys.map(async (node) => sampleValue(await scrape(node), "strongbox_ha_forwarded_requests_total") ?? 0));
      const activeReadsOf = async () => sampleValue(await scrape(active), "vault_core_handle_request_count", { operation: "read", mount: "secret/" }) ?? 0;
      const activeReadsBefore = await activeReadsOf();

      // No header asks for anything: the client reads as any Vault client does.
      const first = await api(standbys[0]!, "GET", "secret/data/default", undefined, root());
      expect(first.status).toBe(200);
      expect(first.body.data.data).toEqual({ n: 0, password: "standby-read-secret" });
      // Each write acknowledged by the active is what the very next standby read answers.
      for (let n = 1; n <= 20; n++) {
        expect((await api(active, "PUT", "secret/data/default", { data: { n } }, root())).status).toBe(200);
        const read = await api(standbys[n % 2]!, "GET", "secret/data/default", undefined, root());
        expect([n, read.status, read.body.data.data]).toEqual([n, 200, { n }]);
      }

      const forwardedAfter = await Promise.all(standbys.map(async (node) => sampleValue(await scrape(node), "strongbox_ha_forwarded_requests_total") ?? 0));
      expect(forwardedAfter).toEqual(forwardedBefore);
      expect(await activeReadsOf()).toBe(activeReadsBefore);
      // Answered by the standbys, so audited by them: the file device every node opened from the audit table.
      expect(sampleValue(await scrape(standbys[0]!), "vault_core_handle_request_count", { operation: "read", mount: "secret/" })).toBeGreaterThanOrEqual(1);
      const text = readFileSync(auditFile, "utf8");
      expect(text).not.toContain("standby-read-secret");
      const audited = text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.request.path === "secret/data/default" && entry.request.operation === "read");
      // The active answered no read of it, so every one of these 42 entries (21 reads) was written by a standby.
      expect(audited).toHaveLength(42);
    } finally {
      await api(active, "DELETE", "sys/audit/file", undefined, root());
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("answers reads, lists and token lookups itself, and still sends writes to the active", async () => {
    expect((await api(active, "PUT", "secret/data/app", { data: { colour: "blue" } }, root())).status).toBe(200);
    for (const standby of standbys) {
      const read = await api(standby, "GET", "secret/data/app", undefined, root(), LOCAL_ONLY);
      expect(read.status).toBe(200);
      expect(read.body.data.data).toEqual({ colour: "blue" });
      const list = await api(standby, "LIST", "secret/metadata/", undefined, root(), LOCAL_ONLY);
      expect(list.body.data.keys).toContain("app");
      const self = await api(standby, "GET", "auth/token/lookup-self", undefined, root(), LOCAL_ONLY);
      expect(self.body.data.policies).toEqual(["root"]);
      const mounts = await api(standby, "GET", "sys/mounts", undefined, root(), LOCAL_ONLY);
      expect(Object.keys(mounts.body.data)).toContain("secret/");

      const write = await api(standby, "PUT", "secret/data/app", { data: { colour: "red" } }, root(), LOCAL_ONLY);
      expect(write.status).toBe(307);
      expect(write.headers.get("location")).toBe(`${active.apiAddr}/v1/secret/data/app`);
    }
  });

  it("says it is a performance standby: sys/health 473 unless perfstandbyok, sys/leader and sys/ha-status say so", async () => {
    const standby = standbys[0]!;
    const health = await api(standby, "GET", "sys/health");
    expect(health.status).toBe(473);
    expect(health.body).toMatchObject({ standby: true, performance_standby: true });
    expect((await api(standby, "GET", "sys/health?perfstandbyok=true")).status).toBe(200);
    expect((await api(standby, "GET", "sys/health?standbyok=true")).status).toBe(473);
    expect((await api(standby, "GET", "sys/health?performancestandbycode=299")).status).toBe(299);
    expect((await api(active, "GET", "sys/health")).body).toMatchObject({ standby: false, performance_standby: false });
    expect((await api(standby, "GET", "sys/leader")).body).toMatchObject({ is_self: false, performance_standby: true });
    expect((await api(active, "GET", "sys/leader")).body).toMatchObject({ is_self: true, performance_standby: false });
    await waitFor(
      async () => {
        const nodes = (await api(active, "GET", "sys/ha-status", undefined, root())).body.data.nodes as Record<string, unknown>[];
        const reported = nodes.filter((node) => node.active_node === false);
        return reported.length === standbys.length && reported.every((node) => node.performance_standby === true) ? true : null;
      },
      20_000,
      "every standby to report serving reads in sys/ha-status",
    );
  });

  it("forwards a read when the client asks for the active with X-Vault-Forward: active-node", async () => {
    const read = await api(standbys[0]!, "GET", "secret/data/app", undefined, root(), { ...LOCAL_ONLY, "X-Vault-Forward": "active-node" });
    expect(read.status).toBe(307);
    expect(read.headers.get("location")).toBe(`${active.apiAddr}/v1/secret/data/app`);
  });

  it("reads its own writes through any node, every time (1000 write-then-read pairs)", async () => {
    const mismatches: string[] = [];
    // Ten clients at once, each writing its own secret then reading it back through a standby.
    const client = async (id: number): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        const writer = cluster.nodes[(id + i) % 3]!;
        const reader = standbys[(id + i) % 2]!;
        const value = `v${i}`;
        // Acknowledged through some node (a leadership change may redirect one attempt; the value is the same).
        await waitFor(
          async () => ((await api(writer, "PUT", `secret/data/ryw-${id}`, { data: { value } }, root())).status === 200 ? true : null),
          10_000,
          `client ${id} write ${i}`,
        );
        // A reader that is changing role may not answer; any value it does answer must be the one just written.
        const read = await waitFor(
          async () => {
            const answer = await api(reader, "GET", `secret/data/ryw-${id}`, undefined, root(), LOCAL_ONLY);
            return answer.status === 200 ? answer : null;
          },
          10_000,
          `client ${id} read ${i}`,
        );
        if (read.body.data.data.value !== value) {
          mismatches.push(`client ${id} #${i}: wrote ${value} via node ${writer.index}, node ${reader.index} answered ${JSON.stringify(read.body.data.data)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, id) => client(id)));
    expect(mismatches).toEqual([]);
  }, 300_000);

  it("applies a policy tightened on the active to the very next standby read", async () => {
    const allow = 'path "secret/data/policy-test" { capabilities = ["read"] }';
    expect((await api(active, "PUT", "sys/policies/acl/reader", { policy: allow }, root())).status).toBe(204);
    const created = await api(active, "POST", "auth/token/create", { policies: ["reader"] }, root());
    const token = created.body.auth.client_token as string;
    await api(active, "PUT", "secret/data/policy-test", { data: { a: "1" } }, root());
    expect((await api(standbys[0]!, "GET", "secret/data/policy-test", undefined, token, LOCAL_ONLY)).status).toBe(200);

    const deny = 'path "secret/data/policy-test" { capabilities = ["deny"] }';
    expect((await api(active, "PUT", "sys/policies/acl/reader", { policy: deny }, root())).status).toBe(204);
    for (const standby of standbys) {
      expect((await api(standby, "GET", "secret/data/policy-test", undefined, token, LOCAL_ONLY)).status).toBe(403);
    }

    expect((await api(active, "POST", "auth/token/revoke", { token }, root())).status).toBe(204);
    expect((await api(standbys[1]!, "GET", "auth/token/lookup-self", undefined, token, LOCAL_ONLY)).status).toBe(403);
  });

  it("serves a mount enabled on the active at once", async () => {
    expect((await api(active, "POST", "sys/mounts/fresh", { type: "kv" }, root())).status).toBe(204);
    expect((await api(active, "PUT", "fresh/thing", { a: "b" }, root())).status).toBe(204);
    const read = await api(standbys[1]!, "GET", "fresh/thing", undefined, root(), LOCAL_ONLY);
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual({ a: "b" });
  });

  it("forwards a use-limited token's read, which the active counts exactly once", async () => {
    const created = await api(active, "POST", "auth/token/create", { policies: ["default"], num_uses: 3 }, root());
    const token = created.body.auth.client_token as string;
    const accessor = created.body.auth.accessor as string;
    // Served here it would need a write (the use count): the standby refuses to answer it itself ...
    expect((await api(standbys[0]!, "GET", "auth/token/lookup-self", undefined, token, LOCAL_ONLY)).status).toBe(307);
    // ... and forwards it when it may.
    const self = await api(standbys[0]!, "GET", "auth/token/lookup-self", undefined, token);
    expect(self.status).toBe(200);
    const after = await api(active, "POST", "auth/token/lookup-accessor", { accessor }, root());
    expect(after.body.data.num_uses).toBe(2);
  });

  it("answers warm reads from what it kept while its read lease runs, and sees the next write at once", async () => {
    expect((await api(active, "PUT", "secret/data/warm", { data: { n: 1 } }, root())).status).toBe(200);
    const standby = standbys[0]!;
    const dataGets = async () => {
      const response = await fetch(`http://127.0.0.1:${standby.port}/v1/sys/metrics?format=prometheus`, { headers: { "x-vault-token": root() } });
      const line = (await response.text()).split("\n").find((l) => l.startsWith('strongbox_storage_operation_count{backend="s3",operation="get"'));
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    expect((await api(standby, "GET", "secret/data/warm", undefined, root(), LOCAL_ONLY)).body.data.data).toEqual({ n: 1 });
    const before = await dataGets();
    for (let i = 0; i < 20; i++) expect((await api(standby, "GET", "secret/data/warm", undefined, root(), LOCAL_ONLY)).body.data.data).toEqual({ n: 1 });
    // Read afresh, each would cost the token, the mount tables and two KV entries: dozens of reads.
    expect((await dataGets()) - before).toBeLessThan(5);
    expect((await api(active, "PUT", "secret/data/warm", { data: { n: 2 } }, root())).status).toBe(200);
    expect((await api(standby, "GET", "secret/data/warm", undefined, root(), LOCAL_ONLY)).body.data.data).toEqual({ n: 2 });
  });
});
