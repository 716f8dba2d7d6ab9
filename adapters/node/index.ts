/**
 * The Node adapter: a long-lived container process. `cli.ts` is the `strongbox` executable; these
 * are the pieces it is built from, for embedding and tests.
 */
export { runServer } from "./server/server.js";
export { runCli } from "./cli/index.js";
export { nodeDrivers } from "./stores/backends.js";
export { startApiListener } from "./server/http-listener.js";
export { ClusterListeners } from "./server/cluster-listener.js";
export { ClusterForwarder } from "./server/forwarder.js";
