/** A DynamoDB-compatible server that needs only Node (dynalite on LevelDB), for the HA lock. */
import { mkdir } from "node:fs/promises";
import dynalite from "dynalite";

export interface RunningDynamoDBServer {
  /** e.g. "http://127.0.0.1:41236"; any credentials and region will do. */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts dynalite on loopback, keeping its tables in `dataDir`. One process at a time per folder:
 * LevelDB locks it, and dynalite fails on a locked folder with an uncaught error, so the launcher
 * checks that no other launcher uses the state folder first.
 */
export async function startDynamoDBServer(dataDir: string, port = 0): Promise<RunningDynamoDBServer> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Tables ACTIVE at once: nodes wait for the lock table before they start.
  const server = dynalite({ path: dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: boundPort } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${boundPort}`,
    stop: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        // dynalite's close also closes LevelDB, releasing its lock on the folder.
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
