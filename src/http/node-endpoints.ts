/**
 * The endpoints the HTTP layer serves itself, before (or instead of) the router: the ones a node
 * answers without a token whatever its state, and the operator-key ones a threshold of key shares
 * authorizes. Everything else is declared in request/sys-endpoints.ts or by its engine.
 */
import { Endpoints } from "../sdk/framework.js";
import type { NodeCall } from "./node-call.js";
import { OPERATOR_KEY_ENDPOINTS } from "./sys-operator-keys.js";
import { UNAUTHENTICATED_ENDPOINTS } from "./sys-unauthenticated.js";

export const NODE_ENDPOINTS = new Endpoints<NodeCall, Response>([...UNAUTHENTICATED_ENDPOINTS, ...OPERATOR_KEY_ENDPOINTS]);
