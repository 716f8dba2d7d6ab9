/**
 * The Worker's configuration: `[vars]` in wrangler.toml plus the Worker secrets
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN` if the keys are temporary).
 * Names follow the server's DynamoDB settings where they mean the same thing.
 */
export interface EdgeEnv {
  AWS_DYNAMODB_TABLE?: string;
  AWS_REGION?: string;
  /** Only for DynamoDB Local in development; unset in production. */
  AWS_DYNAMODB_ENDPOINT?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  /** Values may be TOML numbers in `[vars]` or strings from `--var` and the dashboard. */
  LEADER_CACHE_MS?: string | number;
  HOLDER_TIMEOUT_MS?: string | number;
  MAX_STALE_MS?: string | number;
  LEADER_WAIT_MS?: string | number;
}

export interface EdgeConfig {
  table: string;
  region: string;
  endpoint: string | undefined;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** How long a found active node is reused before the lock record is read again. */
  leaderCacheMs: number;
  /** How long the record may keep one RecordVersion before its holder is presumed down; 0 turns the check off. */
  holderTimeoutMs: number;
  /** How long the last known active is still used while DynamoDB cannot be read. */
  maxStaleMs: number;
  /** During a leadership change, how long a request waits for the new holder before the 503; 0 turns it off. */
  leaderWaitMs: number;
}

export class EdgeConfigError extends Error {
  override name = "EdgeConfigError";
}

export function readEdgeConfig(env: EdgeEnv): EdgeConfig {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new EdgeConfigError(
      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (as Worker secrets: `wrangler secret put AWS_ACCESS_KEY_ID`; " +
        "in development, in .dev.vars); a Worker has no AWS credential chain",
    );
  }
  const endpoint = env.AWS_DYNAMODB_ENDPOINT || undefined;
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    throw new EdgeConfigError(`AWS_DYNAMODB_ENDPOINT must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  return {
    table: env.AWS_DYNAMODB_TABLE || "vault-dynamodb-backend",
    region: env.AWS_REGION || "us-east-1",
    endpoint,
    credentials: env.AWS_SESSION_TOKEN ? { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN } : { accessKeyId, secretAccessKey },
    leaderCacheMs: milliseconds(env, "LEADER_CACHE_MS", 1000),
    // The servers' default lease (ha_lease_duration, 1.5 s) plus a margin for DynamoDB latency.
    holderTimeoutMs: milliseconds(env, "HOLDER_TIMEOUT_MS", 2000),
    maxStaleMs: milliseconds(env, "MAX_STALE_MS", 5000),
    // As the servers' standby_hold_timeout: a change takes well under 2 s, clients wait far longer.
    leaderWaitMs: milliseconds(env, "LEADER_WAIT_MS", 5000),
  };
}

function milliseconds(env: EdgeEnv, name: "LEADER_CACHE_MS" | "HOLDER_TIMEOUT_MS" | "MAX_STALE_MS" | "LEADER_WAIT_MS", fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new EdgeConfigError(`${name} must be a whole number of milliseconds (0 or more), got ${JSON.stringify(raw)}`);
  }
  return value;
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}
