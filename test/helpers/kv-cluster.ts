import { expect, inject } from "vitest";
import { api, type Cluster, type ClusterNode, type ClusterOptions, startCluster } from "./cluster.js";

/**
 * Three real node processes on the global setup's split stores (S3 data, DynamoDB Local lock),
 * with a KV v2 engine at `secret/`; `options` change the rest. (Apart from cluster.ts, which the
 * benchmarks import outside vitest.)
 */
export async function startKvCluster(options: Partial<ClusterOptions> = {}): Promise<{ cluster: Cluster; active: ClusterNode }> {
  const cluster = await startCluster(
    { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") },
    { size: 3, ...options },
  );
  const active = await cluster.waitForActive();
  expect((await api(active, "POST", "sys/mounts/secret", { type: "kv-v2" }, cluster.rootToken)).status).toBe(204);
  return { cluster, active };
}
