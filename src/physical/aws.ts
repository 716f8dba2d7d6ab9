/** Option handling shared by the AWS backends, with Vault's keys, environment variables and defaults. */
import type { StorageOptions } from "./options.js";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export function awsRegion(o: StorageOptions): string {
  return o.string("region", ["AWS_REGION", "AWS_DEFAULT_REGION"]) ?? "us-east-1";
}

/** Static keys from the stanza, else undefined so the SDK uses its default credential chain. */
export function awsCredentials(o: StorageOptions): AwsCredentials | undefined {
  const accessKeyId = o.string("access_key");
  const secretAccessKey = o.string("secret_key");
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) {
    throw o.error("access_key and secret_key must be set together (or neither, to use the AWS default credential chain)");
  }
  const sessionToken = o.string("session_token");
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** Vault accepts "host:port" endpoints and adds the scheme. */
export function endpointUrl(endpoint: string | undefined, scheme: "https" | "http" = "https"): string | undefined {
  if (!endpoint) return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `${scheme}://${endpoint}`;
}
