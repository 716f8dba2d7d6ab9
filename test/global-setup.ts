import type { TestProject } from "vitest/node";
import { type DebianPackage, ensureDebianPackages, succeeds } from "./helpers/debian-packages.js";
import { startDynamoDBLocal } from "./helpers/dynamodb-local.js";
import { ETCD_BINARY, startEtcd } from "./helpers/etcd-server.js";
import { HVAC_PYTHON } from "./helpers/hvac.js";
import { startMotoServer } from "./helpers/moto-server.js";
import { startS3Server } from "./helpers/s3-server.js";
import { ZOOKEEPER_JAR, startZooKeeper } from "./helpers/zookeeper-server.js";
import { type Service, TIER_SERVICES, type Tier } from "./tiers.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The tier the test file runs in (vitest.config.ts sets it per project). */
    tier: Tier;
    /** DynamoDB Local, e.g. "http://127.0.0.1:41234" (any credentials, shared database). */
    dynamodbEndpoint: string;
    /** An S3 stand-in (test/helpers/s3-server.ts) with `s3Bucket` created; path-style, any credentials. */
    s3Endpoint: string;
    s3Bucket: string;
    /** moto's server (KMS emulator), or "" when it could not start: then `kmsUnavailable` says why and how to install it. */
    kmsEndpoint: string;
    kmsUnavailable: string;
    /** "" when Python hvac can run (test/helpers/hvac.ts), else why not. */
    hvacUnavailable: string;
    /** etcd's client URL (v3 JSON gateway), e.g. "http://127.0.0.1:41237"; shared, so tests use their own path. */
    etcdEndpoint: string;
    /** A standalone ZooKeeper's host:port; shared, so tests use their own path. */
    zookeeperAddress: string;
  }
}

// The AWS SDK warns once per process that it will drop Node 20; workers inherit this.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

type Provide = (project: TestProject) => void;

interface Started {
  provide: Provide;
  stop(): Promise<void>;
}

/** Debian packages a service needs; the store tier's own-server tests (etcd-tls, zookeeper-tls) need them too. */
const PACKAGES: Partial<Record<Service, DebianPackage>> = {
  hvac: { name: "python3-hvac", present: () => succeeds(HVAC_PYTHON, ["-c", "import hvac"]) },
  etcd: { name: "etcd-server", present: () => succeeds(ETCD_BINARY, ["--version"]) },
  zookeeper: { name: "zookeeperd", present: () => succeeds("test", ["-f", ZOOKEEPER_JAR]) },
};

const START: Record<Service, (missingPackage: string | undefined) => Promise<Started>> = {
  dynamodb: async () => {
    const dynamodb = await startDynamoDBLocal();
    return { provide: (project) => project.provide("dynamodbEndpoint", dynamodb.endpoint), stop: () => dynamodb.stop() };
  },
  s3: async () => {
    const s3 = await startS3Server();
    return {
      provide: (project) => {
        project.provide("s3Endpoint", s3.endpoint);
        project.provide("s3Bucket", s3.bucket);
      },
      stop: () => s3.stop(),
    };
  },
  // moto missing fails only the KMS tests (test/helpers/kms.ts), with the install hint.
  kms: async () => {
    const moto = await startMotoServer().catch((error: Error) => error);
    return {
      provide: (project) => {
        project.provide("kmsEndpoint", moto instanceof Error ? "" : moto.endpoint);
        project.provide("kmsUnavailable", moto instanceof Error ? moto.message : "");
      },
      stop: async () => (moto instanceof Error ? undefined : moto.stop()),
    };
  },
  etcd: async () => {
    const etcd = await startEtcd();
    return { provide: (project) => project.provide("etcdEndpoint", etcd.endpoint), stop: () => etcd.stop() };
  },
  zookeeper: async () => {
    const zookeeper = await startZooKeeper();
    return { provide: (project) => project.provide("zookeeperAddress", zookeeper.address), stop: () => zookeeper.stop() };
  },
  hvac: async (missingPackage) => ({ provide: (project) => project.provide("hvacUnavailable", missingPackage ?? ""), stop: async () => {} }),
};

/**
 * Services shared by the tiers of one vitest run: each starts once, when the first tier that needs
 * it sets up, and stops after the last one tears down. Every project's global setup runs in this
 * process, but each loads this module anew, so the registry lives on globalThis.
 */
interface Registry {
  services: Map<Service, { started: Promise<Started>; users: number }>;
  packages: Map<string, Promise<Map<string, string>>>;
}
const registry: Registry = ((globalThis as { strongboxTestServices?: Registry }).strongboxTestServices ??= { services: new Map(), packages: new Map() });

/** Installs the missing Debian packages `services` need, once per package: dpkg takes a lock. */
async function missingPackages(services: Service[]): Promise<Map<string, string>> {
  const wanted = services.flatMap((service) => PACKAGES[service] ?? []).filter((pkg) => !registry.packages.has(pkg.name));
  if (wanted.length > 0) {
    const installing = ensureDebianPackages(wanted);
    for (const pkg of wanted) registry.packages.set(pkg.name, installing);
  }
  const problems = new Map<string, string>();
  for (const [name, installing] of registry.packages) {
    const problem = (await installing).get(name);
    if (problem) problems.set(name, problem);
  }
  return problems;
}

/** Starts (or reuses) the services of the project's tier, in parallel, and provides their addresses. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tier = project.name as Tier;
  const services = TIER_SERVICES[tier];
  if (!services) throw new Error(`test/global-setup.ts: no tier named "${project.name}" in test/tiers.ts`);
  const problems = await missingPackages(services);
  const starting = services.map((service) => {
    let entry = registry.services.get(service);
    if (!entry) {
      const pkg = PACKAGES[service];
      entry = { started: START[service](pkg && problems.get(pkg.name)), users: 0 };
      registry.services.set(service, entry);
    }
    entry.users++;
    return entry.started;
  });
  const release = async () => {
    await Promise.all(
      services.map(async (service) => {
        const entry = registry.services.get(service)!;
        if (--entry.users > 0) return;
        registry.services.delete(service);
        await entry.started.then(
          (started) => started.stop(),
          () => {},
        );
      }),
    );
  };
  const results = await Promise.allSettled(starting);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) {
    // Stop what did start: vitest gives up without a teardown, and the servers would outlive it.
    await release();
    throw failed.reason;
  }
  for (const result of results) if (result.status === "fulfilled") result.value.provide(project);
  return release;
}
