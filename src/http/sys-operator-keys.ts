import type { Logger } from "../sdk/logger.js";
import { type HandlerResult, LogicalError, unsupportedOperation } from "../sdk/types.js";
import type { OperatorKeyOperations } from "../seal/operator-keys.js";
import type { Rekey } from "../seal/rekey.js";

/**
 * Endpoints Vault serves without a token because a threshold of operator key shares authorizes
 * them. They are served by the active node (a standby forwards them), unsealed.
 */
export const OPERATOR_KEY_PATHS = new Set(
  ["rekey", "rekey-recovery-key"]
    .flatMap((base) => ["init", "update", "verify"].map((leaf) => `sys/${base}/${leaf}`))
    .concat(["sys/generate-root/attempt", "sys/generate-root/update"]),
);

/**
 * One operator-key request; its answer is the JSON body (`data`), or null for 204. Anyone may send
 * these, so every change or refusal is logged (path, method and client; never a key share or OTP).
 */
export async function handleOperatorKeys(
  operations: OperatorKeyOperations,
  path: string,
  method: string,
  body: Record<string, unknown>,
  log: { logger: Logger; client?: string },
): Promise<HandlerResult> {
  if (method === "GET" || method === "HEAD") return serve(operations, path, method, body);
  const fields = { path, method, remote_address: log.client ?? "" };
  try {
    const answer = await serve(operations, path, method, body);
    log.logger.info("operator key request served", { ...fields, ...progressOf(answer) });
    return answer;
  } catch (error) {
    log.logger.warn("operator key request refused", { ...fields, error: error instanceof LogicalError ? error.message : "internal error" });
    throw error;
  }
}

async function serve(operations: OperatorKeyOperations, path: string, method: string, body: Record<string, unknown>): Promise<HandlerResult> {
  const write = method === "PUT" || method === "POST";
  const read = method === "GET" || method === "HEAD";
  const [, base, leaf] = path.split("/");
  const answer = (data: Record<string, unknown>) => ({ data });
  if (base === "generate-root") {
    const { generateRoot } = operations;
    if (leaf === "attempt" && read) return answer(await generateRoot.status());
    if (leaf === "attempt" && write) return answer(await generateRoot.start(body));
    if (leaf === "attempt" && method === "DELETE") {
      generateRoot.cancel(); // as Vault: no nonce needed (its CLI sends none)
      return null;
    }
    if (leaf === "update" && write) return answer(await generateRoot.update(body));
  } else {
    const rekey: Rekey = base === "rekey" ? operations.rekey : operations.rekeyRecovery;
    if (leaf === "init" && read) return answer(await rekey.status());
    if (leaf === "init" && write) return answer(await rekey.start(body));
    if (leaf === "init" && method === "DELETE") {
      rekey.cancelRequested(body);
      return null;
    }
    if (leaf === "update" && write) return answer(await rekey.update(body));
    if (leaf === "verify" && read) return answer(rekey.verifyStatus());
    if (leaf === "verify" && write) return answer(await rekey.verifyUpdate(body));
    if (leaf === "verify" && method === "DELETE") return answer(rekey.verifyCancel(body));
  }
  throw unsupportedOperation(path, method);
}

/** What the log line may say about an answer: how far the operation got, nothing of its keys. */
function progressOf(answer: HandlerResult): Record<string, unknown> {
  const data = answer?.data ?? {};
  return Object.fromEntries(["started", "progress", "complete"].filter((key) => data[key] !== undefined).map((key) => [key, data[key]]));
}
