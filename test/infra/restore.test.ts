/**
 * The restore runbook of infra/README.md ("Backups and restore"), played here as far as it goes
 * without AWS: a cluster as the stack runs it (S3 data, DynamoDB lock, awskms seal) writes secrets;
 * its bucket's objects are copied, as a restore from a backup does, into a fresh storage location;
 * a node pointed at the copy with an empty lock table unseals itself with the same seal key and
 * serves every secret, the old root token included.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { api, type Cluster, startCluster, waitFor } from "../helpers/cluster.js";
import { freePort } from "../helpers/free-port.js";
import { awskmsStanza, createKmsKey, kmsEndpoint } from "../helpers/kms.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";

const stores = { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") };
const s3 = new S3Client({
  endpoint: stores.s3Endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

const SECRETS: Record<string, Record<string, string>> = {
  "kv1/app/db": { password: "db-s3cret" },
  "kv1/app/api": { key: "api-s3cret" },
  "kv1/team/deep/nested/entry": { value: "nested" },
};

let cluster: Cluster;
let sealStanza: string;
let restored: ServerProcess | null = null;
const dir = mkdtempSync(join(tmpdir(), "strongbox-restore-"));

beforeAll(async () => {
  sealStanza = awskmsStanza(await createKmsKey(), kmsEndpoint());
  cluster = await startCluster(stores, { size: 1, extraConfig: sealStanza, initRequest: { recovery_shares: 3, recovery_threshold: 2 } });
}, 90_000);
afterAll(async () => {
  await restored?.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Every object under `prefix`, as a backup restore writes them into the new location. */
async function copyPrefix(from: string, to: string): Promise<number> {
  let copied = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: stores.s3Bucket, Prefix: `${from}/`, ContinuationToken: token }));
    for (const { Key } of page.Contents ?? []) {
      const object = await s3.send(new GetObjectCommand({ Bucket: stores.s3Bucket, Key }));
      const body = await object.Body!.transformToByteArray();
      await s3.send(new PutObjectCommand({ Bucket: stores.s3Bucket, Key: `${to}/${Key!.slice(from.length + 1)}`, Body: body }));
      copied++;
    }
    token = page.NextContinuationToken;
  } while (token);
  return copied;
}

it("a copy of the bucket in a fresh location, with an empty lock table, comes back unsealed with every secret", async () => {
  const active = await cluster.waitForActive();
  expect((await api(active, "PUT", "sys/mounts/kv1", { type: "kv", options: { version: "1" } }, cluster.rootToken)).status).toBe(204);
  for (const [path, data] of Object.entries(SECRETS)) expect((await api(active, "PUT", path, data, cluster.rootToken)).status).toBe(204);
  expect((await api(active, "PUT", "sys/policies/acl/reader", { policy: 'path "kv1/*" { capabilities = ["read"] }' }, cluster.rootToken)).status).toBe(204);
  const child = await api(active, "POST", "auth/token/create", { policies: ["reader"] }, cluster.rootToken);
  const readerToken = child.body.auth.client_token as string;
  await cluster.stop();

  const restoredPrefix = `restored-${randomUUID()}`;
  expect(await copyPrefix(cluster.s3Prefix, restoredPrefix)).toBeGreaterThan(0);
  const port = await freePort();
  const config = join(dir, "restored.hcl");
  writeFileSync(
    config,
    `
storage "s3" {
  bucket              = "${stores.s3Bucket}"
  endpoint            = "${stores.s3Endpoint}"
  s3_force_path_style = "true"
  region              = "us-east-1"
  access_key          = "test"
  secret_key          = "test"
  path                = "${restoredPrefix}"
}
ha_storage "dynamodb" {
  table      = "strongbox-restored-${randomUUID()}"
  endpoint   = "${stores.dynamodbEndpoint}"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"
}
listener "tcp" {
  address     = "127.0.0.1:${port}"
  tls_disable = true
}
api_addr = "http://127.0.0.1:${port}"
${sealStanza}
`,
  );
  restored = await startServerProcess([`-config=${config}`], { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });
  const node = { port };
  await waitFor(
    async () => ((await api(node, "GET", "sys/leader")).body?.is_self === true ? true : null),
    30_000,
    "the restored node to unseal itself and take the lock",
  );
  for (const [path, data] of Object.entries(SECRETS)) {
    const read = await api(node, "GET", path, undefined, cluster.rootToken);
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual(data);
  }
  expect((await api(node, "GET", "kv1/app/db", undefined, readerToken)).body.data).toEqual(SECRETS["kv1/app/db"]);
  expect((await api(node, "PUT", "kv1/app/db", { password: "x" }, readerToken)).status).toBe(403);
}, 120_000);
