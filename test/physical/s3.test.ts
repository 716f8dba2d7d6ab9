import { describe, expect, inject, it } from "vitest";
import { BackendInputError } from "../../src/physical/backend.js";
import { ConfigError } from "../../src/config/types.js";
import { createS3Backend, s3Settings } from "../../src/physical/s3.js";
import { describeConformance } from "./conformance.js";

const endpoint = inject("s3Endpoint");
const bucket = inject("s3Bucket");
const options = (extra: Record<string, string> = {}) => ({
  bucket,
  endpoint,
  s3_force_path_style: "true",
  access_key: "test",
  secret_key: "test",
  ...extra,
});
// Each backend gets its own prefix in the one bucket.
const fresh = (extra: Record<string, string> = {}) => createS3Backend(options({ path: `run-${crypto.randomUUID()}`, ...extra }), {});

describeConformance("s3", { create: () => fresh() });

describe("s3", () => {
  it("keeps backends with different paths apart", async () => {
    const one = await fresh();
    const two = await fresh();
    await one.put("k", new Uint8Array([1]));
    expect(await two.get("k")).toBeNull();
    expect(await two.list("")).toEqual([]);
    expect(await one.list("")).toEqual(["k"]);
  });

  it("refuses keys longer than S3 allows, counting the path", async () => {
    // s3rver stores objects as files, so keep each segment short.
    const path = `${"p".repeat(99)}/${"q".repeat(63)}`;
    const backend = await fresh({ path });
    const keyOf = (bytes: number) => `${"k".repeat(99)}/`.repeat(Math.floor(bytes / 100)) + "k".repeat(bytes % 100);
    const room = 1024 - path.length - 1;
    await backend.put(keyOf(room), new Uint8Array([1]));
    expect(await backend.get(keyOf(room))).toEqual(new Uint8Array([1]));
    await expect(backend.put(keyOf(room + 1), new Uint8Array([1]))).rejects.toThrow(BackendInputError);
  });

  it("says which bucket is missing at startup", async () => {
    await expect(createS3Backend(options({ bucket: "no-such-bucket" }), {})).rejects.toThrow(/"no-such-bucket".*does not exist/);
  });

  it("reads Vault's keys and environment variables, the environment winning", () => {
    const settings = s3Settings(
      { bucket: "from-file", endpoint: "s3.example:9000", region: "eu-west-1", path: "/vault/", kms_key_id: "alias/aws/s3" },
      { AWS_S3_BUCKET: "from-env", AWS_REGION: "us-west-2" },
    );
    expect(settings).toMatchObject({
      bucket: "from-env",
      endpoint: "https://s3.example:9000",
      region: "us-west-2",
      prefix: "vault/",
      kmsKeyId: "alias/aws/s3",
      forcePathStyle: false,
      maxParallel: 128,
    });
    expect(s3Settings({ bucket: "b", endpoint: "minio:9000", disable_ssl: "true" }, {}).endpoint).toBe("http://minio:9000");
    expect(s3Settings({ bucket: "b" }, { AWS_DEFAULT_REGION: "ap-south-1" }).region).toBe("ap-south-1");
    expect(s3Settings({ bucket: "b" }, {}).region).toBe("us-east-1");
  });

  it("names the key and what is allowed in configuration errors", () => {
    expect(() => s3Settings({}, {})).toThrow(ConfigError);
    expect(() => s3Settings({}, {})).toThrow(/bucket is required.*AWS_S3_BUCKET/);
    expect(() => s3Settings({ bucket: "b", max_parallel: "lots" }, {})).toThrow(/max_parallel = "lots".*positive integer/);
    expect(() => s3Settings({ bucket: "b", s3_force_path_style: "yes please" }, {})).toThrow(/s3_force_path_style.*"true" or "false"/);
    expect(() => s3Settings({ bucket: "b", access_key: "AKIA" }, {})).toThrow(/access_key and secret_key/);
  });
});

describe("s3 encryption", () => {
  it("asks for SSE-KMS with the configured key when kms_key_id is set", async () => {
    const path = `run-${crypto.randomUUID()}`;
    const backend = await createS3Backend(options({ path, kms_key_id: "alias/strongbox" }), {});
    await backend.put("secret", new Uint8Array([1]));
    const { S3Client, HeadObjectCommand } = await import("@aws-sdk/client-s3");
    const client = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${path}/secret` }));
    expect(head.ServerSideEncryption).toBe("aws:kms");
    expect(head.SSEKMSKeyId).toBe("alias/strongbox");
  });
});
