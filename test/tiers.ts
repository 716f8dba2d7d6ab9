/**
 * Which test files run in which tier (vitest.config.ts makes one vitest project of each) and which
 * services each tier's global setup starts (test/global-setup.ts). A file listed nowhere is a unit test.
 */
export type Tier = "unit" | "store" | "cluster" | "chaos";
export type Service = "dynamodb" | "s3" | "kms" | "etcd" | "zookeeper" | "hvac";

export const TIER_SERVICES: Record<Tier, Service[]> = {
  unit: [],
  store: ["dynamodb", "s3", "kms", "etcd", "zookeeper"],
  cluster: ["dynamodb", "s3", "kms", "etcd", "zookeeper", "hvac"],
  chaos: ["dynamodb", "s3", "etcd", "zookeeper"],
};

/** Against real store servers (shared ones from the setup, or a test's own): their client code and conformance. */
export const STORE_FILES = [
  "test/physical/dynamodb*.test.ts",
  "test/physical/etcd*.test.ts",
  "test/physical/zookeeper*.test.ts",
  "test/physical/s3.test.ts",
  "test/http/storage-cache-s3.test.ts",
  "test/seal/awskms.test.ts",
  "test/seal/migration.test.ts",
  "test/seal/migration-ha.test.ts",
  "test/seal/moto-server.test.ts",
  "test/http/aws-auth.test.ts",
];

/** Real strongbox processes (dev servers, the CLI, multi-node clusters) and the scripts that start them. */
export const CLUSTER_FILES = [
  "test/audit/audit-devices.test.ts",
  "test/audit/audit-ha.test.ts",
  "test/cli/auth-e2e.test.ts",
  "test/cli/auth-aws-cert-e2e.test.ts",
  "test/cli/e2e.test.ts",
  "test/cli/generate-root.test.ts",
  "test/compat/hvac-*.test.ts",
  "test/identity/identity-jwt-e2e.test.ts",
  "test/compat/node-vault*.test.ts",
  "test/edge/edge.test.ts",
  "test/fuzz/api-fuzz.test.ts",
  "test/ha/cluster.test.ts",
  "test/ha/forwarding.test.ts",
  "test/ha/identity-ha.test.ts",
  "test/ha/lock-stores-cluster.test.ts",
  "test/ha/pki-ha.test.ts",
  "test/ha/standby-reads.test.ts",
  "test/ha/transit-ha.test.ts",
  "test/ha/zero-downtime.test.ts",
  "test/http/system-lease-ttls.test.ts",
  "test/infra/entrypoint.test.ts",
  "test/infra/scripts.test.ts",
  "test/launcher/launcher.test.ts",
  "test/launcher/status-rate.test.ts",
  "test/metrics/metrics-cluster.test.ts",
  "test/metrics/metrics-dev.test.ts",
  "test/seal/*-cluster.test.ts",
  "test/seal/pgp-keys.test.ts",
  "test/ha/health-from-memory.test.ts",
  "test/ha/request-body-ha.test.ts",
  "test/ha/rolling-restart.test.ts",
  "test/ha/stalled-event-loop.test.ts",
  "test/http/request-body-limits.test.ts",
  "test/infra/node-addresses.test.ts",
  "test/infra/restore.test.ts",
  "test/infra/synth-offline.test.ts",
  "test/listener/listener-process.test.ts",
];

/** The short fault-injection runs (`npm run chaos` and `npm run bench -- soak` run the long ones). */
export const CHAOS_FILES = ["test/chaos/chaos.test.ts", "test/chaos/soak.test.ts"];
