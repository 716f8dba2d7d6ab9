/**
 * The stack-efficiency baseline: a bare Hono hello-world behind the same listener wrapper as the
 * server (`startApiListener`: @hono/node-server plus the LIST-method socket), in one process.
 * Prints `{"address"}` when ready.
 */
import { Hono } from "hono";
import { startApiListener } from "../adapters/node/server/http-listener.js";

const app = new Hono();
app.get("/", (c) => c.text("hello"));
const listener = await startApiListener(
  { type: "tcp", address: "127.0.0.1:0", clusterAddress: "127.0.0.1:0", tlsDisable: true, maxRequestSize: 32 * 1024 * 1024 },
  app.fetch,
);
process.stdout.write(`${JSON.stringify({ address: listener.address })}\n`);
process.once("SIGTERM", () => void listener.close().then(() => process.exit(0)));
