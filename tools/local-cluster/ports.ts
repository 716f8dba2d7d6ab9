/** Loopback ports for the nodes: fixed defaults so addresses stay the same across runs, else free ones. */
import { createServer } from "node:net";

export interface NodePorts {
  api: number;
  cluster: number;
  /** Set when the default ports were taken and others were chosen. */
  fallbackNote?: string;
}

/**
 * With `basePort` N, node i gets N+2i (API) and N+2i+1 (cluster), as Vault pairs 8200/8201; a pair
 * with a port in use gets two free ports instead. With 0, every node gets free ports.
 */
export async function chooseNodePorts(basePort: number, count: number): Promise<NodePorts[]> {
  const taken = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const port = await osChosenPort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const chosen: NodePorts[] = [];
  for (let i = 0; i < count; i++) {
    const api = basePort + 2 * i;
    if (basePort !== 0 && (await portIsFree(api)) && (await portIsFree(api + 1))) {
      taken.add(api).add(api + 1);
      chosen.push({ api, cluster: api + 1 });
      continue;
    }
    const ports = { api: await pick(), cluster: await pick() };
    chosen.push(
      basePort === 0 ? ports : { ...ports, fallbackNote: `port ${api} or ${api + 1} is in use, so this node uses ${ports.api} and ${ports.cluster}` },
    );
  }
  return chosen;
}

/** Fresh free ports for a node whose ports were taken between choosing and binding. */
export async function freeNodePorts(): Promise<NodePorts> {
  const api = await osChosenPort();
  let cluster = await osChosenPort();
  while (cluster === api) cluster = await osChosenPort();
  return { api, cluster };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function osChosenPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
