import { setFlagsFromString } from "node:v8";

/**
 * V8 frees dead ArrayBuffers on a background thread, and each young-generation collection first
 * waits for the previous sweep to finish. On a host with one or two vCPUs (a Fargate task, this
 * project's CI machine) that hand-off between threads is slow, and its wait lands on every
 * off-heap allocation: each Buffer a request's bytes pass through, each output of node:crypto.
 * Sweeping on the main thread costs a short list walk per collection instead. V8 reads the flag at
 * every sweep, so setting it when the server starts is enough.
 */
export function tuneV8ForServing(): void {
  setFlagsFromString("--no-concurrent-array-buffer-sweeping");
}
