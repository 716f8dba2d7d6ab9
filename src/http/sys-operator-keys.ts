import type { Endpoint } from "../sdk/framework.js";
import { type HandlerResult, LogicalError } from "../sdk/types.js";
import type { NodeCall } from "./node-call.js";
import { json } from "./respond.js";
import type { OperatorKeyOperations } from "../seal/operator-keys.js";
import type { Rekey } from "../seal/rekey.js";

type Serve = (operations: OperatorKeyOperations, given: Record<string, unknown>) => Promise<HandlerResult>;

/**
 * Endpoints Vault serves without a token because a threshold of operator key shares authorizes
 * them. They are served by the active node (a standby forwards them), unsealed. Each request is
 * audited (what was given, hashed) and, being open to anyone, every change or refusal is logged
 * (path, method and client; never a key share or OTP).
 */
function operatorKey(pattern: string, operations: Partial<Record<"read" | "update" | "delete", Serve>>): Endpoint<NodeCall, Response> {
  const serve = (handler: Serve) => async (call: NodeCall) => {
    // A DELETE's nonce may come in the body or the query.
    const given = { ...Object.fromEntries([...call.query].filter(([key]) => key !== "list")), ...call.body };
    const answer = await call.core.requests.audited({ ...call.request, data: given }, () => logged(call, () => handler(call.core.operatorKeys, given)));
    return answer ? json(answer.data) : new Response(null, { status: 204 });
  };
  const declared = Object.entries(operations).map(([operation, handler]) => [operation, serve(handler)]);
  return { pattern, operatorKey: true, operations: Object.fromEntries(declared) };
}

async function logged({ path, method, request, logger }: NodeCall, serve: () => Promise<HandlerResult>): Promise<HandlerResult> {
  if (method === "GET" || method === "HEAD") return serve();
  const fields = { path, method, remote_address: request.clientAddress ?? "" };
  try {
    const answer = await serve();
    logger.info("operator key request served", { ...fields, ...progressOf(answer) });
    return answer;
  } catch (error) {
    logger.warn("operator key request refused", { ...fields, error: error instanceof LogicalError ? error.message : "internal error" });
    throw error;
  }
}

const answer = (data: Record<string, unknown>) => ({ data });

function rekeyEndpoints(base: "rekey" | "rekey-recovery-key", pick: (operations: OperatorKeyOperations) => Rekey): Endpoint<NodeCall, Response>[] {
  return [
    operatorKey(`sys/${base}/init`, {
      read: async (operations) => answer(await pick(operations).status()),
      update: async (operations, given) => answer(await pick(operations).start(given)),
      delete: async (operations, given) => (pick(operations).cancelRequested(given), null),
    }),
    operatorKey(`sys/${base}/update`, { update: async (operations, given) => answer(await pick(operations).update(given)) }),
    operatorKey(`sys/${base}/verify`, {
      read: async (operations) => answer(pick(operations).verifyStatus()),
      update: async (operations, given) => answer(await pick(operations).verifyUpdate(given)),
      delete: async (operations, given) => answer(pick(operations).verifyCancel(given)),
    }),
  ];
}

export const OPERATOR_KEY_ENDPOINTS: Endpoint<NodeCall, Response>[] = [
  ...rekeyEndpoints("rekey", (operations) => operations.rekey),
  ...rekeyEndpoints("rekey-recovery-key", (operations) => operations.rekeyRecovery),
  operatorKey("sys/generate-root/attempt", {
    read: async ({ generateRoot }) => answer(await generateRoot.status()),
    update: async ({ generateRoot }, given) => answer(await generateRoot.start(given)),
    // As Vault: no nonce needed (its CLI sends none).
    delete: async ({ generateRoot }) => (generateRoot.cancel(), null),
  }),
  operatorKey("sys/generate-root/update", { update: async ({ generateRoot }, given) => answer(await generateRoot.update(given)) }),
];

/** What the log line may say about an answer: how far the operation got, nothing of its keys. */
function progressOf(answer: HandlerResult): Record<string, unknown> {
  const data = answer?.data ?? {};
  return Object.fromEntries(["started", "progress", "complete"].filter((key) => data[key] !== undefined).map((key) => [key, data[key]]));
}
