/**
 * A bounded fuzz run against a real `strongbox server -dev` process: thousands of random
 * requests (methods × real and hostile paths × right, wrong and pathological bodies × tokens of
 * every kind). The server must answer each one in time without a 5xx other than 503, and must
 * still be alive, healthy and of bounded size at the end.
 *
 * Replay: FUZZ_SEED=<seed printed on failure> npx vitest run test/fuzz/api-fuzz.test.ts
 * (request #i is drawn from its own PRNG derived from the seed, so it is the same in every run;
 * the server's state, and so some answers, also depend on the order concurrent requests finish in).
 */
import { readFileSync } from "node:fs";
import { Agent, METHODS, request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { type FuzzRequest, hashesPassword, randomRequest, STATE } from "./api-generators.js";
import { Random } from "./random.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 4_000);
/** The run stops drawing requests after this long, whatever it reached; the test stays well under a minute. */
const RUN_BUDGET_MS = 35_000;
const CONCURRENCY = 4;
/** Tokens and the test's state are renewed between batches, in case the fuzzer revoked or deleted them. */
const BATCH = 200;
const SLOW_MS = 1_000;
/**
 * Userpass logins and password writes run PBKDF2-SHA256 with 600 000 iterations on purpose
 * (src/logical/auth/password.ts): ~0.7 s each on a shared 2-core machine, more with four at once.
 */
const PASSWORD_HASHING_SLOW_MS = 5_000;
const MINTED_POOL = 32;
/** A response slower than this is given up on (and reported), so a stalled server cannot hang the test. */
const GIVE_UP_MS = 10_000;
/** Node's default limit on a request's line and headers; over it the server answers 431 and closes. */
const NODE_MAX_HEAD_BYTES = 16 * 1024;
/** Growth of the server's resident memory over the run (in-memory storage holds what the fuzzer wrote). */
const RSS_GROWTH_BOUND_KB = 300 * 1024;

/** Methods that reach the application; any other is refused by Node's HTTP parser (LIST is rewritten to GET first). */
const PARSEABLE_METHODS = new Set([...METHODS, "LIST"]);
/** Bytes outside printable ASCII in the request target, which Node's parser refuses with a 400. */
const UNPARSEABLE_TARGET = /[^\x21-\x7e]/;

interface Response {
  status: number;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY + 1 });

/**
 * One raw HTTP request: node:http sends the path exactly as given (no `..` or escape normalisation).
 * A kept-alive socket the server closed just as the request went out is the client's race, not a
 * server fault: as Node's documentation advises, such a request is sent once more on a new socket.
 */
async function send(addr: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Response> {
  try {
    return await sendOnce(addr, method, path, headers, body, PARSEABLE_METHODS.has(method) ? agent : false);
  } catch (error) {
    if (!(error as { reusedSocket?: boolean }).reusedSocket || (error as NodeJS.ErrnoException).code !== "ECONNRESET") throw error;
    return sendOnce(addr, method, path, headers, body, false);
  }
}

function sendOnce(
  addr: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
  pool: Agent | false,
): Promise<Response> {
  const url = new URL(addr);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        // A method Node's parser refuses closes the connection: kept off the shared keep-alive pool.
        agent: pool,
        host: url.hostname,
        port: url.port,
        method,
        path: `/v1/${path}`,
        // Node's client sends a GET/DELETE/OPTIONS body with no length at all unless told one.
        headers: body === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.setTimeout(GIVE_UP_MS, () => req.destroy(new Error(`no response within ${GIVE_UP_MS} ms`)));
    req.on("error", (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(body);
  });
}

function refusedByNodeParser(request: FuzzRequest, headers: Record<string, string>): boolean {
  const headerBytes = Object.entries(headers).reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0);
  // 256: the request line's fixed parts and the headers send() adds (host, length, type, connection).
  return (
    !PARSEABLE_METHODS.has(request.method) ||
    UNPARSEABLE_TARGET.test(request.path) ||
    request.method.length + request.path.length + headerBytes + 256 > NODE_MAX_HEAD_BYTES
  );
}

function residentKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

interface Failure {
  /** Outcome and where: one known bug (say, malformed escapes) must not crowd the others out of the report. */
  kind: string;
  line: string;
}

function failure(index: number, request: FuzzRequest, outcome: string, detail: string): Failure {
  const where = request.path.split("?")[0]!.split("/").slice(0, 2).join("/").slice(0, 40);
  const kind = decodes(request.path) ? `${outcome} ${request.method.slice(0, 10)} ${where}` : `${outcome}, undecodable %-escapes in the path`;
  return { kind, line: `${describeRequest(index, request)} → ${detail}` };
}

function decodes(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** Up to three examples of each kind of failure, with how many there were. */
function summarise(failures: Failure[]): string {
  const byKind = new Map<string, Failure[]>();
  for (const f of failures) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f]);
  return [...byKind]
    .map(
      ([kind, all]) =>
        `[${all.length}× ${kind}]\n${all
          .slice(0, 3)
          .map((f) => `  ${f.line}`)
          .join("\n")}`,
    )
    .join("\n");
}

function describeRequest(index: number, request: FuzzRequest): string {
  const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text);
  const body = request.body === undefined ? "no body" : `body ${clip(JSON.stringify(request.body), 160)}`;
  return `#${index} ${clip(request.method, 20)} /v1/${clip(request.path, 120)} token=${request.tokenKind}${request.bearer ? " (bearer)" : ""} ${body}`;
}

describe("API fuzzing against a real server process", () => {
  let server: ServerProcess;
  const rootToken = `fuzz-root-${SEED}`;
  const tokens: Record<"root" | "default" | "narrow", string> = { root: "", default: "", narrow: "" };
  /** The latest tokens fuzz requests were given (token creation, logins): later requests use them. */
  const minted: string[] = [];

  async function asRoot(method: string, path: string, body?: unknown): Promise<Response> {
    return send(server.apiAddr, method, path, { "x-vault-token": rootToken }, body === undefined ? undefined : JSON.stringify(body));
  }

  /** Mounts, a policy, a user and a role (re-creating what the fuzzer may have removed), and fresh tokens. */
  async function prepareState(initial: boolean): Promise<void> {
    // Re-enabling an existing mount is a 400 "already in use": fine here. Later rounds may also
    // meet settings the fuzzer changed (e.g. cas_required), so only the first round must succeed.
    await asRoot("POST", "sys/auth/userpass", { type: "userpass" });
    await asRoot("POST", "sys/auth/approle", { type: "approle" });
    await asRoot("POST", `sys/mounts/${STATE.kvV1}`, { type: "kv", options: { version: "1" } });
    await asRoot("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } });
    await asRoot("POST", "secret/config", { cas_required: false, max_versions: 0 });
    const setup: [string, unknown][] = [
      [
        `sys/policies/acl/${STATE.policy}`,
        {
          policy: `path "secret/data/app/*" { capabilities = ["create", "read", "update", "list"] }\npath "${STATE.kvV1}/+" { capabilities = ["read"] }\npath "sys/*" { capabilities = ["deny"] }`,
        },
      ],
      [`auth/userpass/users/${STATE.user}`, { password: "fuzz-password", token_policies: [STATE.policy] }],
      [`auth/approle/role/${STATE.role}`, { token_policies: [STATE.policy], secret_id_num_uses: 0 }],
      ["secret/data/app/config", { data: { key: "value" } }],
      [`${STATE.kvV1}/a`, { key: "value" }],
    ];
    for (const [path, body] of setup) {
      const { status } = await asRoot("POST", path, body);
      if (initial) expect(status, path).toBeLessThan(300);
    }
    for (const [kind, policies] of [
      ["root", ["root"]],
      ["default", ["default"]],
      ["narrow", [STATE.policy]],
    ] as const) {
      const response = await asRoot("POST", "auth/token/create", { policies, no_parent: true });
      expect(response.status, `creating the ${kind} token`).toBe(200);
      tokens[kind] = (JSON.parse(response.body) as { auth: { client_token: string } }).auth.client_token;
    }
  }

  function keepMintedToken(status: number, body: string): void {
    if (status !== 200 || !body.includes('"client_token"')) return;
    const token = (JSON.parse(body) as { auth?: { client_token?: string } }).auth?.client_token;
    if (!token) return;
    minted.push(token);
    if (minted.length > MINTED_POOL) minted.shift();
  }

  function headersFor(request: FuzzRequest): Record<string, string> {
    const token =
      request.tokenKind === "garbage"
        ? request.garbageToken!
        : request.tokenKind === "none"
          ? ""
          : request.tokenKind === "minted"
            ? (minted[Math.floor(request.mintedPick * minted.length)] ?? tokens.default)
            : tokens[request.tokenKind];
    if (!token) return {};
    return request.bearer ? { authorization: `Bearer ${token}` } : { "x-vault-token": token };
  }

  beforeAll(async () => {
    server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${rootToken}`]);
  });

  afterAll(async () => {
    agent.destroy();
    await server?.stop();
  });

  it("answers every request in time without a 5xx (503 aside), and survives with bounded memory", { timeout: 90_000 }, async () => {
    const pid = server.child.pid!;
    await prepareState(true);
    const rssBefore = residentKb(pid);
    const failures: Failure[] = [];
    const started = Date.now();
    let sent = 0;

    for (let batchStart = 0; batchStart < REQUESTS && Date.now() - started < RUN_BUDGET_MS; batchStart += BATCH) {
      let next = batchStart;
      const batchEnd = Math.min(batchStart + BATCH, REQUESTS);
      const worker = async () => {
        while (next < batchEnd && Date.now() - started < RUN_BUDGET_MS && server.child.exitCode === null) {
          const index = next++;
          sent++;
          const request = randomRequest(new Random(SEED ^ Math.imul(index + 1, 0x9e3779b1)));
          const before = performance.now();
          try {
            const { status, body } = await send(server.apiAddr, request.method, request.path, headersFor(request), request.body);
            const elapsed = performance.now() - before;
            keepMintedToken(status, body);
            if (status >= 500 && status !== 503) failures.push(failure(index, request, `${status}`, `${status}`));
            if (elapsed > (hashesPassword(request) ? PASSWORD_HASHING_SLOW_MS : SLOW_MS)) {
              failures.push(failure(index, request, "slow", `${status} after ${Math.round(elapsed)} ms`));
            }
          } catch (error) {
            // Node's HTTP parser answers an unknown method or a non-ASCII target (400), or an oversized head (431),
            // and closes the connection, which a client still sending its body may see as a reset.
            if (!refusedByNodeParser(request, headersFor(request))) {
              failures.push(failure(index, request, "no response", `${(error as Error).message} after ${Math.round(performance.now() - before)} ms`));
            }
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      if (server.child.exitCode !== null) break;
      await prepareState(false);
    }

    expect(server.child.exitCode, `seed ${SEED}: the server exited after ${sent} requests:\n${server.output().slice(-4000)}`).toBeNull();
    const growthKb = residentKb(pid) - rssBefore;
    const header = `seed ${SEED}: ${sent} requests in ${Date.now() - started} ms, resident memory grew by ${Math.round(growthKb / 1024)} MiB`;
    expect.soft(failures.length, `${header}; ${failures.length} failures, a few of each kind:\n${summarise(failures)}`).toBe(0);
    expect.soft(sent, header).toBeGreaterThanOrEqual(1_000);
    const health = await send(server.apiAddr, "GET", "sys/health", {});
    expect(health.status, header).toBe(200);
    expect(growthKb, header).toBeLessThan(RSS_GROWTH_BOUND_KB);
  });
});
