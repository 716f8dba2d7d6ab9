import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api as callNode, type ApiResponse } from "./cluster.js";
import { freePort } from "./free-port.js";
import { type ServerProcess, startServerProcess } from "./server-process.js";

/** One real server process on file storage in a temporary folder, restartable on the same data. */
export interface FileServer {
  readonly server: ServerProcess;
  /** The file storage's folder. */
  readonly dataPath: string;
  /** A request to the current process, not following redirects. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<Pick<ApiResponse, "status" | "body">>;
  /** Stops the process and starts it again with the same configuration (sealed, same data). */
  restart(): Promise<void>;
  /** Stops the process and removes its folder. */
  stop(): Promise<void>;
}

/** Starts `strongbox server` with file storage, one plain-HTTP listener and `extraConfig` lines. */
export async function startFileServer(name: string, extraConfig: string[] = []): Promise<FileServer> {
  const dir = mkdtempSync(join(tmpdir(), `strongbox-${name}-`));
  const port = await freePort();
  const config = join(dir, "server.hcl");
  const lines = [
    `storage "file" {`,
    `  path = "${join(dir, "data")}"`,
    `}`,
    `listener "tcp" {`,
    `  address     = "127.0.0.1:${port}"`,
    `  tls_disable = true`,
    `}`,
    `api_addr = "http://127.0.0.1:${port}"`,
  ];
  writeFileSync(config, [...lines, ...extraConfig].join("\n"));
  let server = await startServerProcess([`-config=${config}`]);
  return {
    get server() {
      return server;
    },
    dataPath: join(dir, "data"),
    api: async (method, path, body, token) => {
      const { status, body: answer } = await callNode({ port }, method, path, body, token);
      return { status, body: answer };
    },
    async restart() {
      await server.stop();
      server = await startServerProcess([`-config=${config}`]);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
