/**
 * A Vault-like HTTP client for the chaos workload: follows 307s as Vault clients do, and retries
 * what may not have been served (connection errors, timeouts, 5xx) on another node until its
 * budget runs out. Retrying a write resends the same value, so a retry can never reorder a key.
 */

/** Wall-clock-like ms for the client history: sub-millisecond, and steady even if the clock is stepped. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface Attempted<T> {
  /** Start of the first attempt (writes: an early attempt may have landed) and of the successful one. */
  firstStart: number;
  lastStart: number;
  end: number;
  /** null when the budget ran out: the outcome is unknown. */
  result: T | null;
  attempts: number;
  lastError: string;
}

export interface ClientOptions {
  /** Base URLs ("http://127.0.0.1:port") of every node; each attempt starts at a random one. */
  nodes: () => string[];
  token: string;
  /** Total time for one operation, retries included. */
  budgetMs: number;
  /** Longest single attempt. */
  attemptTimeoutMs: number;
}

const MAX_REDIRECTS = 5;
const RETRY_PAUSE_MS = 100;

interface Answer {
  status: number;
  body: any;
}

/** One attempt: a request to `base` that follows redirects; rejects on transport failure or timeout. */
async function attempt(base: string, method: string, path: string, body: unknown, token: string, timeoutMs: number): Promise<Answer> {
  const signal = AbortSignal.timeout(Math.ceil(timeoutMs));
  let url = `${base}/v1/${path}`;
  for (let hop = 0; ; hop++) {
    const response = await fetch(url, {
      method,
      redirect: "manual",
      signal,
      headers: { "x-vault-token": token, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const location = response.headers.get("location");
    if ((response.status === 307 || response.status === 308) && location && hop < MAX_REDIRECTS) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      continue;
    }
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }
}

/** An answer that retrying cannot fix: a bug in the server or the workload. */
export class PermanentError extends Error {
  override name = "PermanentError";
}

/**
 * Runs one operation with retries. `interpret` maps an answer to a result, to "retry" (the answer
 * says nothing was served), or throws for an answer that must not be retried.
 */
async function withRetries<T>(
  options: ClientOptions,
  method: string,
  path: string,
  body: unknown,
  interpret: (answer: Answer) => T | "retry",
): Promise<Attempted<T>> {
  const firstStart = wallNow();
  const deadline = performance.now() + options.budgetMs;
  let attempts = 0;
  let lastError = "";
  let lastStart = firstStart;
  while (performance.now() < deadline) {
    const nodes = options.nodes();
    const base = nodes[Math.floor(Math.random() * nodes.length)]!;
    attempts++;
    lastStart = wallNow();
    try {
      const answer = await attempt(base, method, path, body, options.token, Math.max(1, Math.min(options.attemptTimeoutMs, deadline - performance.now())));
      const result = interpret(answer);
      if (result !== "retry") return { firstStart, lastStart, end: wallNow(), result, attempts, lastError };
      lastError = `${answer.status} ${JSON.stringify(answer.body?.errors ?? "")}`;
    } catch (error) {
      if (error instanceof PermanentError) throw error;
      lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS * (0.5 + Math.random())));
  }
  return { firstStart, lastStart, end: wallNow(), result: null, attempts, lastError };
}

/** 5xx means the request may not have been served: retry. Anything else unexpected is a bug. */
function retryOrFail(answer: Answer, path: string): "retry" {
  if (answer.status >= 500) return "retry";
  throw new PermanentError(`${path}: unexpected ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** Writes `{ value }` to a KV v2 secret; the result is the version the server acknowledged. */
export function writeValue(options: ClientOptions, mount: string, key: string, value: number): Promise<Attempted<number>> {
  const path = `${mount}/data/${key}`;
  return withRetries(options, "POST", path, { data: { value } }, (answer) => {
    if (answer.status === 200 && typeof answer.body?.data?.version === "number") return answer.body.data.version as number;
    return retryOrFail(answer, path);
  });
}

/** Reads a KV v2 secret's `value`; 0 when it was never written. */
export function readValue(options: ClientOptions, mount: string, key: string): Promise<Attempted<number>> {
  const path = `${mount}/data/${key}`;
  return withRetries(options, "GET", path, undefined, (answer) => {
    if (answer.status === 200) return Number(answer.body?.data?.data?.value);
    if (answer.status === 404 && Array.isArray(answer.body?.errors) && answer.body.errors.length === 0) return 0;
    return retryOrFail(answer, path);
  });
}
