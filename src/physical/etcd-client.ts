/**
 * A small etcd v3 client over the JSON gateway every etcd ≥ 3.4 serves at its client URLs
 * (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/deleterange`, `/v3/kv/txn`, `/v3/auth/authenticate`):
 * keys and values are base64, 64-bit numbers are decimal strings, false and zero are omitted.
 * Runtime-agnostic (fetch); client-certificate TLS comes in as a `Transport` from the adapter.
 */
import { fromBase64, toBase64 } from "../sdk/encoding.js";

/** One POST of a JSON body; resolves with the HTTP status and body text whatever the status. */
export type Transport = (url: string, body: string, headers: Record<string, string>, signal: AbortSignal) => Promise<{ status: number; text: string }>;

export interface EtcdKeyValue {
  key: Uint8Array;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
}

export type EtcdCompare =
  | { key: Uint8Array; target: "CREATE"; createRevision: number }
  | { key: Uint8Array; target: "MOD"; modRevision: number }
  | { key: Uint8Array; target: "VALUE"; value: Uint8Array };

export type EtcdOp = { put: { key: Uint8Array; value: Uint8Array } } | { deleteRange: { key: Uint8Array } } | { range: { key: Uint8Array } };

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the transaction: a put's new mod_revision when it succeeded. */
  revision: number;
  /** What each `range` op of the branch taken found (one list per range op, in order). */
  ranges: EtcdKeyValue[][];
}

export interface EtcdClientSettings {
  /** Client URLs, tried in order; the last that answered is tried first next time. */
  addresses: string[];
  transport: Transport;
  username?: string;
  password?: string;
  requestTimeoutMs: number;
  /** Responses larger than this many bytes are refused (`max_receive_size`); 0 for no limit. */
  maxReceiveBytes: number;
}

/** etcd answered with an error (the gateway's `{"error","code","message"}`), or spoke nonsense. */
export class EtcdError extends Error {
  override name = "EtcdError";
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** gRPC code etcd uses for "invalid auth token" and similar: authenticate again. */
const UNAUTHENTICATED = 16;

export const fetchTransport: Transport = async (url, body, headers, signal) => {
  const response = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers }, signal });
  return { status: response.status, text: await response.text() };
};

export class EtcdClient {
  #preferred = 0;
  #token: Promise<string> | null = null;

  constructor(private readonly settings: EtcdClientSettings) {}

  async get(key: Uint8Array, signal?: AbortSignal): Promise<EtcdKeyValue | null> {
    const body = await this.#call("/v3/kv/range", { key: toBase64(key) }, signal);
    return keyValues(body.kvs)[0] ?? null;
  }

  /** Keys (no values) in [key, rangeEnd), ascending, at most `limit`; `more` when there are further. */
  async keys(key: Uint8Array, rangeEnd: Uint8Array, limit: number, signal?: AbortSignal): Promise<{ keys: Uint8Array[]; more: boolean }> {
    const body = await this.#call("/v3/kv/range", { key: toBase64(key), range_end: toBase64(rangeEnd), keys_only: true, limit }, signal);
    return { keys: keyValues(body.kvs).map((kv) => kv.key), more: body.more === true };
  }

  async put(key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.#call("/v3/kv/put", { key: toBase64(key), value: toBase64(value) }, signal);
  }

  async delete(key: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.#call("/v3/kv/deleterange", { key: toBase64(key) }, signal);
  }

  async txn(compare: EtcdCompare[], success: EtcdOp[], failure: EtcdOp[], signal?: AbortSignal): Promise<TxnResult> {
    const body = await this.#call("/v3/kv/txn", { compare: compare.map(compareJson), success: success.map(opJson), failure: failure.map(opJson) }, signal);
    const responses = Array.isArray(body.responses) ? (body.responses as Record<string, any>[]) : [];
    return {
      succeeded: body.succeeded === true,
      revision: Number(body.header?.revision ?? 0),
      ranges: responses.filter((r) => r.response_range).map((r) => keyValues(r.response_range.kvs)),
    };
  }

  /** One gateway call: bounded by request_timeout (and `signal`), tried on each address in turn. */
  async #call(path: string, request: unknown, signal: AbortSignal | undefined, reauthenticated = false): Promise<Record<string, any>> {
    const timeout = AbortSignal.timeout(this.settings.requestTimeoutMs);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const headers: Record<string, string> = this.settings.username ? { authorization: await this.#authToken(bounded) } : {};
    try {
      return await this.#post(path, JSON.stringify(request), headers, bounded);
    } catch (error) {
      if (error instanceof EtcdError && error.code === UNAUTHENTICATED && this.settings.username && !reauthenticated) {
        this.#token = null; // expired (etcd's simple tokens last 5 minutes by default)
        return this.#call(path, request, signal, true);
      }
      throw error;
    }
  }

  #authToken(signal: AbortSignal): Promise<string> {
    this.#token ??= this.#post(
      "/v3/auth/authenticate",
      JSON.stringify({ name: this.settings.username, password: this.settings.password ?? "" }),
      {},
      signal,
    ).then((body) => {
      if (typeof body.token !== "string") throw new EtcdError("etcd authentication answered without a token");
      return body.token;
    });
    this.#token.catch(() => (this.#token = null));
    return this.#token;
  }

  async #post(path: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<Record<string, any>> {
    const { addresses } = this.settings;
    let lastError: unknown;
    for (let i = 0; i < addresses.length; i++) {
      const index = (this.#preferred + i) % addresses.length;
      let answer: { status: number; text: string };
      try {
        answer = await this.settings.transport(`${addresses[index]}${path}`, body, headers, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        lastError = error; // unreachable: the next address may answer
        continue;
      }
      this.#preferred = index;
      return this.#parse(answer);
    }
    throw new EtcdError(`no etcd address answered (${addresses.join(", ")}): ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }

  #parse({ status, text }: { status: number; text: string }): Record<string, any> {
    const { maxReceiveBytes } = this.settings;
    if (maxReceiveBytes > 0 && text.length > maxReceiveBytes) {
      throw new EtcdError(`etcd's answer (${text.length} bytes) exceeds max_receive_size (${maxReceiveBytes} bytes)`);
    }
    let body: Record<string, any>;
    try {
      body = JSON.parse(text);
    } catch {
      throw new EtcdError(`etcd answered HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    if (status !== 200 || typeof body.error === "string") {
      throw new EtcdError(`etcd: ${body.message ?? body.error ?? `HTTP ${status}`}`, typeof body.code === "number" ? body.code : undefined);
    }
    return body;
  }
}

function compareJson(compare: EtcdCompare): Record<string, string> {
  const key = toBase64(compare.key);
  switch (compare.target) {
    case "CREATE":
      return { key, result: "EQUAL", target: "CREATE", create_revision: String(compare.createRevision) };
    case "MOD":
      return { key, result: "EQUAL", target: "MOD", mod_revision: String(compare.modRevision) };
    case "VALUE":
      return { key, result: "EQUAL", target: "VALUE", value: toBase64(compare.value) };
  }
}

function opJson(op: EtcdOp): Record<string, unknown> {
  if ("put" in op) return { request_put: { key: toBase64(op.put.key), value: toBase64(op.put.value) } };
  if ("deleteRange" in op) return { request_delete_range: { key: toBase64(op.deleteRange.key) } };
  return { request_range: { key: toBase64(op.range.key) } };
}

function keyValues(kvs: unknown): EtcdKeyValue[] {
  if (!Array.isArray(kvs)) return [];
  return kvs.map((kv: Record<string, string | undefined>) => ({
    key: fromBase64(kv.key ?? ""),
    value: fromBase64(kv.value ?? ""),
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
  }));
}

/** The smallest key greater than every key starting with `prefix` (etcd's "prefix range end"). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]); // all 0xff: to the end of the keyspace
}
