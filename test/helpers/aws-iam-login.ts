/**
 * The AWS side of IAM logins in tests: principals made in moto's IAM (real ARNs and unique IDs) and
 * `sts:GetCallerIdentity` requests signed with @smithy/signature-v4, encoded as Vault's clients send them.
 */
import { SignatureV4 } from "@smithy/signature-v4";
import { type AwsCredentials, signedQuery, WebCryptoSha256, xmlElement } from "../../src/builtin/aws/signing.js";

export const MOTO_ADMIN: AwsCredentials = { accessKeyId: "test", secretAccessKey: "test" };
export const IAM_SERVER_ID_HEADER = "X-Vault-AWS-IAM-Server-ID";

export interface IamPrincipal {
  arn: string;
  uniqueId: string;
  credentials: AwsCredentials;
}

/** An IAM user at `path` with an access key. */
export async function createIamUser(endpoint: string, name: string, path = "/"): Promise<IamPrincipal> {
  const created = await signedQuery(endpoint, "iam", "us-east-1", MOTO_ADMIN, { Action: "CreateUser", UserName: name, Path: path, Version: "2010-05-08" });
  const key = await signedQuery(endpoint, "iam", "us-east-1", MOTO_ADMIN, { Action: "CreateAccessKey", UserName: name, Version: "2010-05-08" });
  return {
    arn: xmlElement(created, "Arn"),
    uniqueId: xmlElement(created, "UserId"),
    credentials: { accessKeyId: xmlElement(key, "AccessKeyId"), secretAccessKey: xmlElement(key, "SecretAccessKey") },
  };
}

/** An IAM role, and temporary credentials of a session that assumed it (its caller ARN is `assumed-role/<name>/<session>`). */
export async function createAssumedRole(endpoint: string, name: string, session: string): Promise<IamPrincipal & { roleArn: string }> {
  const trust = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }] });
  const role = await signedQuery(endpoint, "iam", "us-east-1", MOTO_ADMIN, {
    Action: "CreateRole",
    RoleName: name,
    AssumeRolePolicyDocument: trust,
    Version: "2010-05-08",
  });
  const roleArn = xmlElement(role, "Arn");
  const assumed = await signedQuery(endpoint, "sts", "us-east-1", MOTO_ADMIN, {
    Action: "AssumeRole",
    RoleArn: roleArn,
    RoleSessionName: session,
    Version: "2011-06-15",
  });
  return {
    roleArn,
    arn: xmlElement(assumed, "Arn"),
    uniqueId: xmlElement(role, "RoleId"),
    credentials: {
      accessKeyId: xmlElement(assumed, "AccessKeyId"),
      secretAccessKey: xmlElement(assumed, "SecretAccessKey"),
      sessionToken: xmlElement(assumed, "SessionToken"),
    },
  };
}

export interface SignOptions {
  /** Where the request is signed for (the STS endpoint the server will call). */
  stsUrl: string;
  serverId?: string;
  /** Sends the server-ID header without signing it. */
  serverIdUnsigned?: boolean;
  region?: string;
  body?: string;
}

/** Login fields for `auth/<mount>/login` as the Vault CLI builds them: base64 URL and body, base64 JSON headers (lists of values). */
export async function signedLoginFields(credentials: AwsCredentials, options: SignOptions): Promise<Record<string, string>> {
  const url = new URL(options.stsUrl);
  const body = options.body ?? "Action=GetCallerIdentity&Version=2011-06-15";
  const headers: Record<string, string> = { host: url.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" };
  if (options.serverId !== undefined && !options.serverIdUnsigned) headers[IAM_SERVER_ID_HEADER] = options.serverId;
  const signer = new SignatureV4({ service: "sts", region: options.region ?? "us-east-1", credentials, sha256: WebCryptoSha256 });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: "/",
    query: {},
    headers,
    body,
  });
  const sent: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(signed.headers as Record<string, string>)) sent[name] = [value];
  if (options.serverId !== undefined && options.serverIdUnsigned) sent[IAM_SERVER_ID_HEADER] = [options.serverId];
  return {
    iam_http_request_method: "POST",
    iam_request_url: Buffer.from(url.toString()).toString("base64"),
    iam_request_body: Buffer.from(body).toString("base64"),
    iam_request_headers: Buffer.from(JSON.stringify(sent)).toString("base64"),
  };
}
