import type { TestProject } from "vitest/node";
import { ensureDebianPackages, succeeds } from "./helpers/debian-packages.js";
import { startDynamoDBLocal } from "./helpers/dynamodb-local.js";
import { ETCD_BINARY, startEtcd } from "./helpers/etcd-server.js";
import { HVAC_PYTHON } from "./helpers/hvac.js";
import { startMotoServer } from "./helpers/moto-server.js";
import { startS3Server } from "./helpers/s3-server.js";
import { ZOOKEEPER_JAR, startZooKeeper } from "./helpers/zookeeper-server.js";

declare module "vitest" {
  export interface ProvidedContext {
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const missingPackages = await ensureDebianPackages([
    { name: "python3-hvac", present: () => succeeds(HVAC_PYTHON, ["-c", "import hvac"]) },
    { name: "etcd-server", present: () => succeeds(ETCD_BINARY, ["--version"]) },
    { name: "zookeeperd", present: () => succeeds("test", ["-f", ZOOKEEPER_JAR]) },
  ]);
  project.provide("hvacUnavailable", missingPackages.get("python3-hvac") ?? "");
  // moto missing fails only the KMS tests (test/helpers/kms.ts), with the install hint.
  const [dynamodb, s3, moto, etcd, zookeeper] = await Promise.all([
    startDynamoDBLocal(),
    startS3Server(),
    startMotoServer().catch((error: Error) => error),
    startEtcd(),
    startZooKeeper(),
  ]);
  project.provide("dynamodbEndpoint", dynamodb.endpoint);
  project.provide("s3Endpoint", s3.endpoint);
  project.provide("s3Bucket", s3.bucket);
  project.provide("kmsEndpoint", moto instanceof Error ? "" : moto.endpoint);
  project.provide("kmsUnavailable", moto instanceof Error ? moto.message : "");
  project.provide("etcdEndpoint", etcd.endpoint);
  project.provide("zookeeperAddress", zookeeper.address);
  return async () => {
    await Promise.all([dynamodb.stop(), s3.stop(), moto instanceof Error ? undefined : moto.stop(), etcd.stop(), zookeeper.stop()]);
  };
}
