import { Agent, request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningListener, startApiListener } from "../../adapters/node/server/http-listener.js";

interface Answer {
  status: number;
  connection: string | undefined;
  /** The client port of the socket the answer came on: equal ports, same connection. */
  localPort: number;
}

/** One GET over `agent` (keep-alive), with the socket it used. */
function get(port: number, agent: Agent, path = "/v1/sys/health"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: "127.0.0.1", port, path, agent }, (response) => {
      const localPort = response.socket.localPort!;
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode!, connection: response.headers.connection, localPort }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

/** Resolves once `agent` has no socket left, open or pooled. */
async function socketsGone(agent: Agent): Promise<void> {
  while (Object.keys(agent.sockets).length + Object.keys(agent.freeSockets).length > 0) await new Promise((r) => setTimeout(r, 10));
}

let listener: RunningListener | undefined;
const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  await listener?.close();
  listener = undefined;
});

function keepAliveAgent(): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  return agent;
}

/** A listener answering every path at once, except `/slow`: that answer waits for `release()`. */
async function startListener(): Promise<{ slowArrived: Promise<void>; release: () => void }> {
  let arrived = () => {};
  let release = () => {};
  const slowArrived = new Promise<void>((resolve) => (arrived = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  listener = await startApiListener(
    { type: "tcp", address: "127.0.0.1:0", clusterAddress: "127.0.0.1:0", tlsDisable: true, maxRequestSize: 1024 },
    async (request) => {
      if (new URL(request.url).pathname === "/slow") {
        arrived();
        await gate;
      }
      return new Response("{}", { headers: { "content-type": "application/json" } });
    },
  );
  return { slowArrived, release };
}

describe("API listener drain", () => {
  it("keeps connections alive until draining, then closes each after its answer", async () => {
    await startListener();
    const agent = keepAliveAgent();
    const first = await get(listener!.port, agent);
    const second = await get(listener!.port, agent);
    expect(first.connection).toBe("keep-alive");
    expect(second.localPort).toBe(first.localPort);

    listener!.beginDraining();
    const draining = await get(listener!.port, agent);
    expect(draining).toMatchObject({ status: 200, connection: "close", localPort: first.localPort });
    // The server closed it: the client does not reuse it, the next request opens a new one.
    await socketsGone(agent);
    const next = await get(listener!.port, agent);
    expect(next.connection).toBe("close");
    expect(next.localPort).not.toBe(first.localPort);
  });

  it("closes the connection of a request that was inside when the drain began, after its answer", async () => {
    const { slowArrived, release } = await startListener();
    const agent = keepAliveAgent();
    const slow = get(listener!.port, agent, "/slow");
    await slowArrived;
    listener!.beginDraining();
    release();
    expect(await slow).toMatchObject({ status: 200, connection: "close" });
  });

  it("on close, answers the request inside, closes idle connections at once, and stops accepting", async () => {
    const { slowArrived, release } = await startListener();
    const idleAgent = keepAliveAgent();
    await get(listener!.port, idleAgent);
    const busyAgent = keepAliveAgent();
    const slow = get(listener!.port, busyAgent, "/slow");
    await slowArrived;
    const port = listener!.port;
    const closed = listener!.close();
    listener = undefined;
    // The idle connection goes first; the busy one is still waiting for its answer.
    await socketsGone(idleAgent);
    expect(Object.keys(busyAgent.sockets)).toHaveLength(1);
    await expect(get(port, keepAliveAgent())).rejects.toThrow(/ECONNREFUSED/);
    release();
    expect(await slow).toMatchObject({ status: 200, connection: "close" });
    await closed;
  });
});
