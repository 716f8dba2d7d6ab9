/**
 * The IAM login's signed `sts:GetCallerIdentity` request: decoded from the login fields, checked
 * (method, URL, body, headers, the server-ID header, the signed host and body hash), sent on to STS
 * by Strongbox itself, and the caller STS names parsed as Vault parses IAM ARNs.
 */
import { fromBase64 } from "../../sdk/encoding.js";
import { isPlainObject } from "../../sdk/fields.js";
import { LogicalError } from "../../sdk/types.js";
import { AWS_TIMEOUT_MS, awsErrorMessage, sha256Hex, xmlElement } from "./signing.js";

export const SERVER_ID_HEADER = "X-Vault-AWS-IAM-Server-ID";
const DEFAULT_STS_ENDPOINT = "https://sts.amazonaws.com";

/** Headers a client may send unsigned (besides `allowed_sts_header_values`): what SDKs add around a signature. */
const ALWAYS_ALLOWED_HEADERS = [
  "authorization",
  "content-length",
  "content-type",
  "host",
  "user-agent",
  "x-amz-content-sha256",
  "x-amz-date",
  "x-amz-security-token",
  "x-amz-user-agent",
  SERVER_ID_HEADER.toLowerCase(),
];
/** Not passed on to STS: fetch sets them from the URL and body it sends. */
const TRANSPORT_HEADERS = new Set(["host", "content-length", "connection", "transfer-encoding"]);

export interface StsSettings {
  sts_endpoint: string;
  use_sts_region_from_client: boolean;
  iam_server_id_header_value: string;
  allowed_sts_header_values: string[];
}

export interface SignedRequest {
  url: URL;
  body: string;
  headers: Map<string, { name: string; values: string[] }>;
}

export interface CallerIdentity {
  arn: string;
  userId: string;
  account: string;
}

/** Which login fields a request carries: Vault tells the IAM and EC2 methods apart by them. */
export function loginKind(data: Record<string, unknown>): "iam" | "ec2" {
  const given = (field: string) => data[field] !== undefined && data[field] !== "";
  const iam = ["iam_http_request_method", "iam_request_url", "iam_request_body", "iam_request_headers"];
  const ec2 = ["pkcs7", "identity", "signature"];
  const anyIam = iam.some(given);
  const anyEc2 = ec2.some(given);
  if (anyIam && anyEc2) throw new LogicalError(400, "supplied auth values for both ec2 and iam auth types");
  if (anyEc2) return "ec2";
  if (!anyIam) throw new LogicalError(400, "didn't supply required authentication values");
  if (!iam.every(given)) throw new LogicalError(400, "supplied some of the auth values for the iam auth type but not all");
  return "iam";
}

/** The login's request, decoded and checked against Vault's rules; 400 with Vault's text otherwise. */
export function decodeSignedRequest(data: Record<string, unknown>): SignedRequest {
  if (data.iam_http_request_method !== "POST") throw new LogicalError(400, "invalid iam_http_request_method; currently only 'POST' is supported");
  const rawUrl = base64Text(data.iam_request_url, "iam_request_url");
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new LogicalError(400, "error parsing iam_request_url");
  }
  if (url.search !== "" || (url.pathname !== "/" && url.pathname !== "")) throw new LogicalError(400, "invalid request");
  const body = base64Text(data.iam_request_body, "iam_request_body");
  const params = new URLSearchParams(body);
  for (const [key, value] of params) {
    if ((key === "Action" && value === "GetCallerIdentity") || key === "Version") continue;
    throw new LogicalError(400, "iam request body is invalid");
  }
  if (params.getAll("Action").length !== 1) throw new LogicalError(400, "iam request body is invalid");
  return { url, body, headers: decodeHeaders(data.iam_request_headers) };
}

function base64Text(value: unknown, field: string): string {
  if (typeof value !== "string") throw new LogicalError(400, `missing ${field}`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(fromBase64(value));
  } catch {
    throw new LogicalError(400, `failed to base64 decode ${field}`);
  }
}

/** Vault's header field: a JSON object (values a string or a list of strings), itself or as base64 JSON text. */
function decodeHeaders(value: unknown): SignedRequest["headers"] {
  let object = value;
  if (typeof value === "string") {
    try {
      object = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromBase64(value)));
    } catch {
      object = undefined;
    }
  }
  const invalid = () => new LogicalError(400, "invalid iam_request_headers: expected a JSON object of headers, or one encoded as base64");
  if (!isPlainObject(object)) throw invalid();
  const headers: SignedRequest["headers"] = new Map();
  for (const [name, raw] of Object.entries(object)) {
    const values = typeof raw === "string" ? [raw] : Array.isArray(raw) && raw.every((item) => typeof item === "string") ? (raw as string[]) : null;
    if (values === null || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || values.some((item) => /[\r\n\0]/.test(item))) throw invalid();
    const key = name.toLowerCase();
    const existing = headers.get(key);
    headers.set(key, { name: existing?.name ?? name, values: [...(existing?.values ?? []), ...values] });
  }
  if (headers.size === 0) throw new LogicalError(400, "missing iam_request_headers");
  return headers;
}

/**
 * Where the signed request goes (`sts_endpoint`, or the client's region's STS), after the header
 * checks Vault makes (the server ID, present and signed; only signed or allowed headers) and the
 * ones Strongbox adds: a SigV4 signature for STS that covers `host`, and a signed body hash, when
 * given, that is the hash of the body sent.
 */
export async function checkSignedRequest(request: SignedRequest, settings: StsSettings): Promise<URL> {
  const header = (name: string) => request.headers.get(name)?.values.join(",") ?? "";
  const authorization = header("authorization");
  const parsed =
    /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=[0-9a-f]+$/.exec(
      authorization,
    );
  if (settings.iam_server_id_header_value !== "") {
    const problem = serverIdProblem(header(SERVER_ID_HEADER.toLowerCase()), settings.iam_server_id_header_value, authorization, parsed?.[5]);
    if (problem) throw new LogicalError(400, `error validating ${SERVER_ID_HEADER} header: ${problem}`);
  }
  if (!parsed) throw new LogicalError(400, "iam_request_headers must carry an AWS Signature Version 4 Authorization header");
  const [, , , region, service, signedList] = parsed;
  const signed = signedList!.split(";");
  if (service !== "sts") throw new LogicalError(400, `the iam request is signed for the "${service}" service, not "sts"`);
  const allowed = new Set([...ALWAYS_ALLOWED_HEADERS, ...signed, ...settings.allowed_sts_header_values.map((name) => name.toLowerCase())]);
  for (const [key, { name }] of request.headers) if (!allowed.has(key)) throw new LogicalError(400, `invalid request header: ${name}`);
  if (!signed.includes("host")) throw new LogicalError(400, "the iam request's signature does not cover the host header");

  const bodyHash = header("x-amz-content-sha256");
  if (bodyHash !== "" && bodyHash !== "UNSIGNED-PAYLOAD" && bodyHash.toLowerCase() !== (await sha256Hex(request.body))) {
    throw new LogicalError(400, "iam_request_body does not match the body the request was signed with (X-Amz-Content-Sha256)");
  }
  return new URL(settings.use_sts_region_from_client ? `https://sts.${region}.amazonaws.com` : settings.sts_endpoint || DEFAULT_STS_ENDPOINT);
}

function serverIdProblem(provided: string, required: string, authorization: string, signedList: string | undefined): string | null {
  if (provided === "") return `missing header "${SERVER_ID_HEADER}"`;
  if (provided !== required) return `expected "${required}" but got "${provided}"`;
  if (authorization === "") return "missing Authorization header";
  if (!signedList?.split(";").includes(SERVER_ID_HEADER.toLowerCase())) return "vault header wasn't signed";
  return null;
}

/**
 * Sends the request to STS (never following a redirect) and reads the caller from its answer. The
 * Host header is the endpoint's (fetch sets it): a request signed for another host (Vault's
 * transparent-proxy setup) reaches STS with a Host its signature does not cover, and STS refuses it.
 */
export async function callerIdentity(request: SignedRequest, endpoint: URL): Promise<CallerIdentity> {
  const headers = new Headers();
  for (const [key, { values }] of request.headers) if (!TRANSPORT_HEADERS.has(key)) for (const value of values) headers.append(key, value);
  let response: Response;
  try {
    response = await fetch(new URL("/", endpoint), {
      method: "POST",
      headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(AWS_TIMEOUT_MS),
    });
  } catch (error) {
    throw new LogicalError(400, `error making upstream request: error making request: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (response.status !== 200) {
    throw new LogicalError(400, `error making upstream request: received error code ${response.status} from STS: ${awsErrorMessage(text)}`);
  }
  const identity = { arn: xmlElement(text, "Arn"), userId: xmlElement(text, "UserId"), account: xmlElement(text, "Account") };
  if (!text.includes("<GetCallerIdentityResult>") || identity.arn === "")
    throw new LogicalError(400, "error making upstream request: error parsing STS response");
  return identity;
}

/** An IAM principal as Vault reads its ARN: an assumed role names its role (path unknown) and session. */
export interface IamEntity {
  partition: string;
  accountNumber: string;
  type: "user" | "role" | "assumed-role" | "instance-profile";
  path: string;
  friendlyName: string;
  sessionInfo: string;
}

export function parseIamArn(arn: string): IamEntity {
  const parts = arn.split(":");
  if (parts.length !== 6) throw new Error(`unrecognized arn: contains ${parts.length} colon-separated parts, expected 6`);
  if (parts[0] !== "arn") throw new Error('unrecognized arn: does not begin with "arn:"');
  if (parts[2] !== "iam" && parts[2] !== "sts") throw new Error(`unrecognized service: ${parts[2]}, not one of iam or sts`);
  const resource = parts[5]!.split("/");
  if (resource.length < 2) throw new Error(`unrecognized arn: "${parts[5]}" contains fewer than 2 slash-separated parts`);
  const type = resource[0]!;
  if (type !== "user" && type !== "role" && type !== "assumed-role" && type !== "instance-profile") throw new Error(`unrecognized principal type: "${type}"`);
  const entity: IamEntity = {
    partition: parts[1]!,
    accountNumber: parts[4]!,
    type,
    path: resource.slice(1, -1).join("/"),
    friendlyName: resource[resource.length - 1]!,
    sessionInfo: "",
  };
  if (type === "assumed-role") return { ...entity, path: "", friendlyName: resource[1]!, sessionInfo: resource[2] ?? "" };
  return entity;
}

/** Vault's canonical ARN: assumed roles become their role, paths are dropped. */
export function canonicalArn(entity: IamEntity): string {
  const type = entity.type === "assumed-role" ? "role" : entity.type;
  return `arn:${entity.partition}:iam::${entity.accountNumber}:${type}/${entity.friendlyName}`;
}

/** Vault's GlobbedStringsMatch: `*` at either end (or both) of the pattern; no other wildcard. */
export function globbedMatch(pattern: string, value: string): boolean {
  const starts = pattern.startsWith("*");
  const ends = pattern.length > 1 && pattern.endsWith("*");
  if (pattern === "*") return true;
  if (starts && ends) return value.includes(pattern.slice(1, -1));
  if (starts) return value.endsWith(pattern.slice(1));
  if (ends) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}
