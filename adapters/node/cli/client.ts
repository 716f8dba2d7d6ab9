/**
 * The HTTP client behind every client command: Vault's environment variables and HTTP flags, the
 * token lookup, TLS, redirects (a standby answers 307 to the active) and error reporting.
 *
 * Requests go through `node:http` / `node:https` rather than the global `fetch`: Node 20's fetch
 * cannot take a per-request CA, client certificate or "skip verification" without the `undici`
 * package (bundled inside Node but not importable), and the process-wide alternatives
 * (`NODE_TLS_REJECT_UNAUTHORIZED`, `NODE_EXTRA_CA_CERTS`) either print warnings, only add to the
 * trusted roots, or must be set before Node starts. One transport keeps one set of error messages.
 */
import { readdirSync, readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { join } from "node:path";
import { type FlagDefs, type FlagValues, parseBool, UsageError } from "./flags.js";

export const DEFAULT_ADDRESS = "https://127.0.0.1:8200";
const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 3;

/** The connection flags every client command accepts, each with Vault's environment variable. */
export const HTTP_FLAGS = {
  address: { kind: "string", usage: `Address of the server (env VAULT_ADDR, default ${DEFAULT_ADDRESS}).`, placeholder: "url" },
  "ca-cert": {
    kind: "string",
    usage: "PEM file of CA certificates to verify the server with, instead of the system roots (env VAULT_CACERT).",
    placeholder: "file",
  },
  "ca-path": { kind: "string", usage: "Directory of PEM CA certificates (env VAULT_CAPATH).", placeholder: "dir" },
  "client-cert": { kind: "string", usage: "PEM client certificate for TLS authentication (env VAULT_CLIENT_CERT).", placeholder: "file" },
  "client-key": { kind: "string", usage: "PEM private key for -client-cert (env VAULT_CLIENT_KEY).", placeholder: "file" },
  "tls-server-name": { kind: "string", usage: "Name to use as SNI and to verify the certificate against (env VAULT_TLS_SERVER_NAME).", placeholder: "name" },
  "tls-skip-verify": { kind: "bool", usage: "Do not verify the server's certificate; insecure (env VAULT_SKIP_VERIFY)." },
  "disable-redirects": { kind: "bool", usage: "Do not follow redirects, e.g. from a standby to the active node (env VAULT_DISABLE_REDIRECTS)." },
} as const satisfies FlagDefs;

/** The server could not be reached or the connection failed: Vault's CLI exits 2 for these. */
export class TransportError extends Error {}

/** The server answered with an error status; `errors` is Vault's `{"errors": [...]}` list. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly body: unknown,
  ) {
    super(errors.length > 0 ? `HTTP ${status}: ${errors.join("; ")}` : `HTTP ${status}`);
  }
}

export interface ClientConfig {
  address: URL;
  token?: string;
  tls: { ca?: string[]; cert?: string; key?: string; servername?: string; rejectUnauthorized: boolean };
  followRedirects: boolean;
  timeoutMs: number;
}

export interface ApiResponse {
  status: number;
  /** The parsed JSON body, or `null` when the body was empty (204). */
  body: any;
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string>;
  /** Statuses (besides 2xx) to hand back instead of throwing, e.g. 404 for "not found". */
  accept?: number[];
  /** Values sent in this request (an unseal key) that must never show up in an error message. */
  secrets?: string[];
}

/** Builds the configuration as Vault's CLI does: flag, then environment variable, then default. */
export function clientConfig(flags: FlagValues<typeof HTTP_FLAGS>, env: NodeJS.ProcessEnv, homeDir: string): ClientConfig {
  const rawAddress = flags.address ?? nonEmpty(env.VAULT_ADDR) ?? DEFAULT_ADDRESS;
  let address: URL;
  try {
    address = new URL(rawAddress);
  } catch {
    throw new UsageError(`invalid address ${JSON.stringify(rawAddress)}: expected a URL such as https://127.0.0.1:8200`);
  }
  if (address.protocol !== "http:" && address.protocol !== "https:") {
    throw new UsageError(`invalid address ${JSON.stringify(rawAddress)}: only http:// and https:// are supported`);
  }

  const caCert = flags["ca-cert"] ?? nonEmpty(env.VAULT_CACERT);
  const caPath = flags["ca-path"] ?? nonEmpty(env.VAULT_CAPATH);
  const clientCert = flags["client-cert"] ?? nonEmpty(env.VAULT_CLIENT_CERT);
  const clientKey = flags["client-key"] ?? nonEmpty(env.VAULT_CLIENT_KEY);
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw new UsageError("a client certificate needs both -client-cert and -client-key (VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)");
  }
  const skipVerify = flags["tls-skip-verify"] ?? envBool(env, "VAULT_SKIP_VERIFY");
  const disableRedirects = flags["disable-redirects"] ?? envBool(env, "VAULT_DISABLE_REDIRECTS");

  const ca = [...(caCert ? [readLocalFile(caCert, "CA certificate")] : []), ...(caPath ? readCaDirectory(caPath) : [])];
  return {
    address,
    token: nonEmpty(env.VAULT_TOKEN) ?? readTokenFile(homeDir),
    tls: {
      ca: ca.length > 0 ? ca : undefined,
      cert: clientCert ? readLocalFile(clientCert, "client certificate") : undefined,
      key: clientKey ? readLocalFile(clientKey, "client key") : undefined,
      servername: flags["tls-server-name"] ?? nonEmpty(env.VAULT_TLS_SERVER_NAME),
      rejectUnauthorized: !skipVerify,
    },
    followRedirects: !disableRedirects,
    timeoutMs: parseTimeout(env.VAULT_CLIENT_TIMEOUT),
  };
}

export class VaultClient {
  constructor(readonly config: ClientConfig) {}

  /** `method /v1/<path>`; throws `ApiError` for an error status not in `accept`, `TransportError` if unreachable. */
  async request(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
    const base = this.config.address.href.replace(/\/+$/, "");
    let url = new URL(`${base}/v1/${encodePath(path)}`);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);

    for (let redirects = 0; ; redirects++) {
      const response = await this.#send(method, url, payload);
      const location = response.message.headers.location;
      if ([301, 302, 307, 308].includes(response.status) && location && this.config.followRedirects) {
        if (redirects >= MAX_REDIRECTS)
          throw new TransportError(`too many redirects (last to ${new URL(location, url).origin}); is api_addr pointing at a load balancer?`);
        const next = new URL(location, url);
        if (url.protocol === "https:" && next.protocol !== "https:") {
          throw new TransportError(`refusing to follow a redirect from ${url.origin} to ${next.origin}: it would drop TLS`);
        }
        url = next;
        continue;
      }
      const body = parseBody(response.text);
      if ((response.status >= 200 && response.status < 300) || options.accept?.includes(response.status)) {
        return { status: response.status, body };
      }
      const secrets = [this.config.token, ...(options.secrets ?? [])];
      throw new ApiError(
        response.status,
        errorList(body, response.text).map((error) => redact(error, secrets)),
        body,
      );
    }
  }

  #send(method: string, url: URL, payload: string | undefined): Promise<{ status: number; text: string; message: IncomingMessage }> {
    const headers: Record<string, string> = { "X-Vault-Request": "true" };
    if (this.config.token) headers["X-Vault-Token"] = this.config.token;
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const options: RequestOptions = { method, headers, timeout: this.config.timeoutMs };
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    if (url.protocol === "https:") Object.assign(options, this.config.tls);

    return new Promise((resolve, reject) => {
      const request = send(url, options, (message) => {
        const chunks: Buffer[] = [];
        message.on("data", (chunk: Buffer) => chunks.push(chunk));
        message.on("error", (error) => reject(transportError(url, error)));
        message.on("end", () => resolve({ status: message.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), message }));
      });
      request.on("timeout", () => request.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
      request.on("error", (error) => reject(transportError(url, error)));
      request.end(payload);
    });
  }
}

/** Hides secrets (token, unseal key, ...) that a message might echo back. */
export function redact(message: string, secrets: (string | undefined)[]): string {
  let result = message;
  for (const secret of secrets) if (secret && secret.length >= 4) result = result.split(secret).join("<redacted>");
  return result;
}

/** Percent-encodes each path segment, keeping the slashes. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function transportError(url: URL, error: Error & { code?: string }): TransportError {
  const target = url.origin;
  const code = error.code ?? "";
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset by the server",
    ENOTFOUND: "no such host",
    EAI_AGAIN: "temporary DNS failure",
    ETIMEDOUT: "timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
  };
  if (reasons[code]) return new TransportError(`cannot reach ${target}: ${reasons[code]}`);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new TransportError(
      `TLS certificate of ${target} not trusted (${error.message}); pass -ca-cert (VAULT_CACERT), or -tls-skip-verify (VAULT_SKIP_VERIFY) to skip verification`,
    );
  }
  if (code === "EPROTO" || /wrong version number|packet length too long/.test(error.message)) {
    return new TransportError(`TLS handshake with ${target} failed (${error.message}); does the server use plain http?`);
  }
  return new TransportError(`cannot reach ${target}: ${error.message || code}`);
}

function parseBody(text: string): any {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorList(body: any, text: string): string[] {
  if (body && Array.isArray(body.errors)) return body.errors.map(String);
  const firstLine = text.trim().split("\n")[0] ?? "";
  return firstLine ? [firstLine.slice(0, 200)] : [];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function envBool(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = nonEmpty(env[name]);
  return value === undefined ? false : parseBool(value, name);
}

/** Vault's token helper default: `~/.vault-token`, used when VAULT_TOKEN is unset. */
function readTokenFile(homeDir: string): string | undefined {
  try {
    return nonEmpty(readFileSync(join(homeDir, ".vault-token"), "utf8").trim());
  } catch {
    return undefined;
  }
}

function readLocalFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

function readCaDirectory(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new UsageError(`cannot read CA directory ${dir}: ${(error as Error).message}`);
  }
  return names
    .map((name) => {
      try {
        return readFileSync(join(dir, name), "utf8");
      } catch {
        return ""; // subdirectories and unreadable entries
      }
    })
    .filter((text) => text.includes("-----BEGIN CERTIFICATE-----"));
}

/** VAULT_CLIENT_TIMEOUT: seconds, or a duration such as `30s`, `2m`. */
function parseTimeout(raw: string | undefined): number {
  if (!raw) return DEFAULT_TIMEOUT_MS;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!match) throw new UsageError(`invalid VAULT_CLIENT_TIMEOUT ${JSON.stringify(raw)}: expected seconds or a duration like 30s`);
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unitMs;
}
