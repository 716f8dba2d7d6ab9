/**
 * `strongbox login -method=aws`: as Vault's CLI, signs an `sts:GetCallerIdentity` request with the
 * caller's AWS credentials (the arguments, else the AWS SDK's default chain: environment, shared
 * files, SSO, container and instance roles) and sends it unsent to `auth/<mount>/login`.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { WebCryptoSha256 } from "../../../src/builtin/aws/signing.js";
import { UsageError } from "./flags.js";

const SERVER_ID_HEADER = "X-Vault-AWS-IAM-Server-ID";
const BODY = "Action=GetCallerIdentity&Version=2011-06-15";

/**
 * The login body. Arguments as Vault's: `role`, `header_value`, `region` (default us-east-1),
 * `aws_access_key_id`, `aws_secret_access_key`, `aws_security_token`; `sts_endpoint` (or the AWS
 * SDK's AWS_ENDPOINT_URL_STS) signs for another STS endpoint, which the mount's config must name.
 */
export async function awsLoginBody(data: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<{ body: Record<string, unknown>; secrets: string[] }> {
  const text = (name: string) => (typeof data[name] === "string" && data[name] !== "" ? (data[name] as string) : undefined);
  const region = text("region") ?? "us-east-1";
  const endpoint =
    text("sts_endpoint") ?? env.AWS_ENDPOINT_URL_STS ?? (region === "us-east-1" ? "https://sts.amazonaws.com" : `https://sts.${region}.amazonaws.com`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`invalid sts_endpoint ${JSON.stringify(endpoint)}`);
  }
  const accessKeyId = text("aws_access_key_id");
  const secretAccessKey = text("aws_secret_access_key");
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) throw new UsageError("aws_access_key_id and aws_secret_access_key go together");
  const credentials =
    accessKeyId && secretAccessKey
      ? { accessKeyId, secretAccessKey, sessionToken: text("aws_security_token") }
      : await defaultProvider()().catch((error: Error) => {
          throw new UsageError(`no AWS credentials found (${error.message}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile`);
        });
  const headers: Record<string, string> = { host: url.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" };
  const headerValue = text("header_value");
  if (headerValue !== undefined) headers[SERVER_ID_HEADER] = headerValue;
  const signer = new SignatureV4({ service: "sts", region, credentials, sha256: WebCryptoSha256 });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: "/",
    query: {},
    headers,
    body: BODY,
  });
  const sent = Object.fromEntries(Object.entries(signed.headers as Record<string, string>).map(([name, value]) => [name, [value]]));
  const body: Record<string, unknown> = {
    iam_http_request_method: "POST",
    iam_request_url: Buffer.from(new URL("/", url).toString()).toString("base64"),
    iam_request_body: Buffer.from(BODY).toString("base64"),
    iam_request_headers: Buffer.from(JSON.stringify(sent)).toString("base64"),
  };
  if (text("role") !== undefined) body.role = text("role");
  // The signed request stands for the credentials until it expires: keep it out of error messages.
  return { body, secrets: [body.iam_request_headers as string, credentials.secretAccessKey, ...(credentials.sessionToken ? [credentials.sessionToken] : [])] };
}
