/**
 * The Node adapter: a long-lived container process. `cli.ts` is the `strongbox` executable; these
 * are the pieces it is built from, for embedding and tests.
 */
export { runServer } from "./server.js";
export { runCli } from "./commands/index.js";
export { nodeDrivers } from "./backends.js";
export { startApiListener } from "./http-listener.js";
export { ClusterListeners } from "./cluster-listener.js";
export { ClusterForwarder } from "./forwarder.js";
