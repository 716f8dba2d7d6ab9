import type { TestProject } from "vitest/node";
import { startDynamoDBLocal } from "./helpers/dynamodb-local.js";
import { startS3Server } from "./helpers/s3-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** DynamoDB Local, e.g. "http://127.0.0.1:41234" (any credentials, shared database). */
    dynamodbEndpoint: string;
    /** An S3 stand-in (test/helpers/s3-server.ts) with `s3Bucket` created; path-style, any credentials. */
    s3Endpoint: string;
    s3Bucket: string;
  }
}

// The AWS SDK warns once per process that it will drop Node 20; workers inherit this.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [dynamodb, s3] = await Promise.all([startDynamoDBLocal(), startS3Server()]);
  project.provide("dynamodbEndpoint", dynamodb.endpoint);
  project.provide("s3Endpoint", s3.endpoint);
  project.provide("s3Bucket", s3.bucket);
  return async () => {
    await Promise.all([dynamodb.stop(), s3.stop()]);
  };
}
