import { randomUUID } from "node:crypto";
import { startServerProcess } from "./server-process.js";

export interface DevServer {
  /** The API address from the banner, e.g. `http://127.0.0.1:41234`. */
  addr: string;
  rootToken: string;
  /** The dev node's single unseal key share (base64), from the banner. */
  unsealKey: string;
  stop(): Promise<void>;
}

/** `strongbox server -dev` (the built CLI) on a free loopback port: in-memory, unsealed, `secret/` as KV v2. */
export async function startDevServer(opts: { rootToken?: string } = {}): Promise<DevServer> {
  const rootToken = opts.rootToken ?? `dev-root-${randomUUID()}`;
  const server = await startServerProcess(["-dev", "-dev-listen-address=127.0.0.1:0", `-dev-root-token-id=${rootToken}`]);
  const unsealKey = /^Unseal Key: (\S+)$/m.exec(server.output())?.[1];
  if (!unsealKey) {
    await server.stop();
    throw new Error(`dev server banner has no "Unseal Key:" line:\n${server.output()}`);
  }
  return {
    addr: server.apiAddr,
    rootToken,
    unsealKey,
    async stop() {
      await server.stop();
    },
  };
}
