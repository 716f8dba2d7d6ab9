/**
 * S3 storage (no HA): one object per key under an optional `path` prefix, listed with delimiter "/".
 * Keys are used as they are (no path cleaning), so "a/../b" stays its own object.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { type AwsCredentials, awsCredentials, awsRegion, endpointUrl } from "./aws.js";
import { type Backend, BackendInputError } from "./backend.js";
import type { StorageDriver } from "./driver.js";
import { StorageOptions } from "./options.js";
import { Permits } from "./permits.js";

type Sdk = typeof import("@aws-sdk/client-s3");

const KEY_LIMIT_BYTES = 1024;

export interface S3Settings {
  bucket: string;
  /** "" or a prefix ending in "/". */
  prefix: string;
  region: string;
  endpoint: string | undefined;
  forcePathStyle: boolean;
  credentials: AwsCredentials | undefined;
  kmsKeyId: string | undefined;
  maxParallel: number;
}

/** Reads a `storage "s3"` stanza; environment variables win over options, as in Vault. */
export function s3Settings(options: Record<string, string>, env: Record<string, string | undefined>): S3Settings {
  const o = new StorageOptions("s3", options, env);
  const path = (o.string("path") ?? "").replace(/^\/+|\/+$/g, "");
  return {
    bucket: o.required("bucket", ["AWS_S3_BUCKET"]),
    prefix: path ? `${path}/` : "",
    region: awsRegion(o),
    endpoint: endpointUrl(o.string("endpoint", ["AWS_S3_ENDPOINT"]), o.bool("disable_ssl", false) ? "http" : "https"),
    forcePathStyle: o.bool("s3_force_path_style", false),
    credentials: awsCredentials(o),
    kmsKeyId: o.string("kms_key_id"),
    maxParallel: o.positiveInt("max_parallel", 128),
  };
}

/** `storage "s3"`: data only, no HA lock. The SDK loads on first create. */
export const s3Driver: StorageDriver = { type: "s3", ha: false, create: (options, env) => createS3Backend(options, env) };

/** Connects and checks that the bucket exists and is reachable. */
export async function createS3Backend(options: Record<string, string>, env: Record<string, string | undefined>): Promise<S3Backend> {
  const settings = s3Settings(options, env);
  const sdk = await import("@aws-sdk/client-s3");
  const client = new sdk.S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials,
  });
  const where = `S3 bucket "${settings.bucket}" (region ${settings.region}${settings.endpoint ? `, endpoint ${settings.endpoint}` : ""})`;
  try {
    await client.send(new sdk.HeadBucketCommand({ Bucket: settings.bucket }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) throw new Error(`${where} does not exist; create it first`);
    if (status === 403) throw new Error(`${where}: access denied; grant s3:ListBucket on it`);
    if (status === 301) throw new Error(`${where} is in another region; set region to the bucket's region`);
    throw new Error(`${where}: cannot reach it: ${error instanceof Error ? error.message : String(error)}`);
  }
  return new S3Backend(sdk, client, settings);
}

export class S3Backend implements Backend {
  readonly #permits: Permits;

  constructor(
    private readonly sdk: Sdk,
    private readonly client: S3Client,
    private readonly settings: S3Settings,
  ) {
    this.#permits = new Permits(settings.maxParallel);
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.#permits.run(async () => {
      try {
        const { Body } = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.#objectKey(key) }));
        return Body ? await Body.transformToByteArray() : new Uint8Array();
      } catch (error) {
        if (error instanceof Error && error.name === "NoSuchKey") return null;
        throw error;
      }
    });
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const { kmsKeyId } = this.settings;
    await this.#permits.run(() =>
      this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: this.#objectKey(key),
          Body: value,
          ...(kmsKeyId && { ServerSideEncryption: "aws:kms", SSEKMSKeyId: kmsKeyId }),
        }),
      ),
    );
  }

  async delete(key: string): Promise<void> {
    await this.#permits.run(() => this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.#objectKey(key) })));
  }

  async list(prefix: string): Promise<string[]> {
    const full = this.settings.prefix + prefix;
    const children: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#permits.run(() =>
        this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: full, Delimiter: "/", ContinuationToken: token })),
      );
      for (const folder of page.CommonPrefixes ?? []) children.push(folder.Prefix!.slice(full.length));
      for (const object of page.Contents ?? []) children.push(object.Key!.slice(full.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return children.sort();
  }

  #objectKey(key: string): string {
    if (key === "") throw new BackendInputError("key must not be empty");
    const objectKey = this.settings.prefix + key;
    if (new TextEncoder().encode(objectKey).length > KEY_LIMIT_BYTES) {
      throw new BackendInputError(
        `key ${JSON.stringify(key.slice(0, 64))}… is too long: S3 object keys (with the configured path) are limited to ${KEY_LIMIT_BYTES} bytes`,
      );
    }
    return objectKey;
  }
}
