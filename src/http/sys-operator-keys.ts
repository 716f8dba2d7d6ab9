import { unsupportedOperation } from "../sdk/types.js";
import type { OperatorKeyOperations } from "../seal/operator-keys.js";
import type { Rekey } from "../seal/rekey.js";
import { json } from "./respond.js";

/**
 * Endpoints Vault serves without a token because a threshold of operator key shares authorizes
 * them. They are served by the active node (a standby forwards them), unsealed.
 */
export const OPERATOR_KEY_PATHS = new Set(
  ["rekey", "rekey-recovery-key"].flatMap((base) => ["init", "update", "verify"].map((leaf) => `sys/${base}/${leaf}`)).concat(["sys/generate-root/attempt", "sys/generate-root/update"]),
);

export async function handleOperatorKeys(operations: OperatorKeyOperations, path: string, method: string, body: Record<string, unknown>): Promise<Response> {
  const write = method === "PUT" || method === "POST";
  const read = method === "GET" || method === "HEAD";
  const [, base, leaf] = path.split("/");
  if (base === "generate-root") {
    const { generateRoot } = operations;
    if (leaf === "attempt" && read) return json(await generateRoot.status());
    if (leaf === "attempt" && write) return json(await generateRoot.start(body));
    if (leaf === "attempt" && method === "DELETE") return cancelled(() => generateRoot.cancel());
    if (leaf === "update" && write) return json(await generateRoot.update(body));
  } else {
    const rekey: Rekey = base === "rekey" ? operations.rekey : operations.rekeyRecovery;
    if (leaf === "init" && read) return json(await rekey.status());
    if (leaf === "init" && write) return json(await rekey.start(body));
    if (leaf === "init" && method === "DELETE") return cancelled(() => rekey.cancel());
    if (leaf === "update" && write) return json(await rekey.update(body));
    if (leaf === "verify" && read) return json(rekey.verifyStatus());
    if (leaf === "verify" && write) return json(await rekey.verifyUpdate(body));
    if (leaf === "verify" && method === "DELETE") return json(rekey.verifyCancel());
  }
  throw unsupportedOperation(path, method);
}

function cancelled(cancel: () => void): Response {
  cancel();
  return new Response(null, { status: 204 });
}
