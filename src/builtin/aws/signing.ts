/**
 * AWS Signature Version 4 with WebCrypto: @smithy/signature-v4 does the signing, this file gives
 * it SHA-256 and HMAC-SHA256 from `crypto.subtle` (so it runs in the core, which has no Node
 * built-ins), and signs the IAM queries the aws method makes with `config/client`'s credentials.
 */
import { SignatureV4 } from "@smithy/signature-v4";

type Bytes = string | ArrayBuffer | ArrayBufferView;

/** The hash @smithy/signature-v4 asks for: SHA-256, or HMAC-SHA256 when given a secret. */
export class WebCryptoSha256 {
  #chunks: Uint8Array[] = [];
  readonly #secret?: Uint8Array;

  constructor(secret?: Bytes) {
    if (secret !== undefined) this.#secret = toBytes(secret);
  }

  update(data: Bytes): void {
    this.#chunks.push(toBytes(data));
  }

  async digest(): Promise<Uint8Array> {
    const data = concat(this.#chunks);
    if (this.#secret === undefined) return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    const key = await crypto.subtle.importKey("raw", this.#secret as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  }

  reset(): void {
    this.#chunks = [];
  }
}

function toBytes(data: Bytes): Uint8Array {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A form-encoded AWS query API call (IAM, STS), signed; answers the response text, or throws with AWS's error. */
export async function signedQuery(
  endpoint: string,
  service: string,
  region: string,
  credentials: AwsCredentials,
  parameters: Record<string, string>,
): Promise<string> {
  const url = new URL(endpoint);
  const body = new URLSearchParams(parameters).toString();
  const signer = new SignatureV4({ service, region, credentials, sha256: WebCryptoSha256 });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname || "/",
    query: {},
    headers: { host: url.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body,
  });
  const headers = Object.fromEntries(Object.entries(signed.headers as Record<string, string>).filter(([name]) => name !== "host"));
  const response = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(AWS_TIMEOUT_MS) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`received error code ${response.status} from ${service.toUpperCase()}: ${awsErrorMessage(text)}`);
  return text;
}

/** How long the aws method waits for an AWS API (STS, IAM) before giving up on a request. */
export const AWS_TIMEOUT_MS = 15_000;

/** AWS's `<Code>`/`<Message>` from an error document, short; the raw text (cut) otherwise. */
export function awsErrorMessage(text: string): string {
  const code = xmlElement(text, "Code");
  const message = xmlElement(text, "Message");
  return code || message ? [code, message].filter(Boolean).join(": ") : text.slice(0, 300);
}

/** The text of the first `<name>` element in an AWS XML response, unescaped; "" when absent. */
export function xmlElement(xml: string, name: string): string {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  if (!match) return "";
  return match[1]!.replace(/&(lt|gt|quot|apos|amp);/g, (_, entity: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[entity]!);
}
