import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import nodeVault from "node-vault";
import { afterAll, describe, expect, it } from "vitest";
import type { ClusterRecord, UnsealKeys } from "../../tools/local-cluster/state-dir.js";
import { waitFor } from "../helpers/cluster.js";

const LAUNCHER = fileURLToPath(new URL("../../dist/tools/local-cluster/index.js", import.meta.url));
const READY = /==> Cluster ready/;

interface RunningLauncher {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Runs the launcher as `npm start` does, but with stdout a pipe (not a terminal) and any free ports. */
function startLauncher(stateDir: string, ...args: string[]): RunningLauncher {
  const child = spawn(process.execPath, [LAUNCHER, "--state-dir", stateDir, "--base-port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  launchers.push(child);
  return { child, output: () => output, exited };
}

async function waitForOutput(launcher: RunningLauncher, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      if (launcher.child.exitCode !== null) throw new Error(`launcher exited with ${launcher.child.exitCode}:\n${launcher.output()}`);
      return pattern.test(launcher.output()) ? true : null;
    },
    timeoutMs,
    `${pattern} in the launcher's output`,
  );
}

function clusterRecord(stateDir: string): ClusterRecord {
  return JSON.parse(readFileSync(join(stateDir, "cluster.json"), "utf8")) as ClusterRecord;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Every port the cluster listens on: the nodes' API and cluster ports and the embedded servers'. */
function portsOf(record: ClusterRecord): number[] {
  const urls = [...record.nodes.flatMap((n) => [n.apiAddr, n.clusterAddr]), record.stores.s3, record.stores.dynamodb];
  return urls.map((url) => Number(new URL(url).port));
}

/** SIGINT, as Ctrl-C; then nothing the launcher started may be left, and its ports are free. */
async function stopAndCheckNothingIsLeft(launcher: RunningLauncher, stateDir: string): Promise<void> {
  const before = clusterRecord(stateDir);
  launcher.child.kill("SIGINT");
  expect(await launcher.exited).toBe(0);
  const after = clusterRecord(stateDir);
  expect(after.state).toBe("stopped");
  const pids = [launcher.child.pid!, ...new Set([...before.pids, ...after.pids])];
  expect(pids.filter(isAlive)).toEqual([]);
  const ports = portsOf(after);
  const busy = [];
  for (const port of ports) if (!(await portIsFree(port))) busy.push(port);
  expect(busy).toEqual([]);
}

const launchers: ChildProcess[] = [];
const stateDir = mkdtempSync(join(tmpdir(), "strongbox-local-cluster-"));

afterAll(() => {
  // Only after a failed test: whatever a launcher left behind.
  for (const child of launchers) if (child.exitCode === null) child.kill("SIGKILL");
  if (existsSync(join(stateDir, "cluster.json"))) {
    for (const pid of clusterRecord(stateDir).pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(stateDir, { recursive: true, force: true });
});

describe("npm start: the local 3-node cluster", () => {
  let rootToken = "";

  it("serves through any node, fails over when the active node is killed, and stops cleanly on SIGINT", { timeout: 120_000 }, async () => {
    const launcher = startLauncher(stateDir);
    await waitForOutput(launcher, READY);

    const keysFile = join(stateDir, "keys.json");
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    rootToken = (JSON.parse(readFileSync(keysFile, "utf8")) as UnsealKeys).rootToken;
    // Not a terminal: the token is not printed, only how to read it from the keys file.
    expect(launcher.output()).not.toContain(rootToken);
    expect(launcher.output()).toContain("export VAULT_TOKEN=$(node -p");

    const record = clusterRecord(stateDir);
    expect(record.nodes.map((n) => n.state).sort()).toEqual(["active", "standby", "standby"]);
    const active = record.nodes.find((n) => n.state === "active")!;
    const [writer, reader] = record.nodes.filter((n) => n.state === "standby");
    await nodeVault({ endpoint: writer!.apiAddr, token: rootToken }).write("secret/data/hello", { data: { value: "world" } });

    process.kill(active.pid!, "SIGKILL");
    const takeover = await waitFor(
      async () => clusterRecord(stateDir).nodes.find((n) => n.state === "active" && n.name !== active.name) ?? null,
      20_000,
      "a standby to take over",
    );
    await waitForOutput(launcher, new RegExp(`failover: .*${active.name} → ${takeover.name}, took \\d+\\.\\d\\d s`), 10_000);
    // Through the node that is neither the old nor the new active: a standby answering the read itself, with the new active.
    const through = takeover.name === reader!.name ? writer! : reader!;
    const read = await nodeVault({ endpoint: through.apiAddr, token: rootToken }).read("secret/data/hello");
    expect(read.data.data).toEqual({ value: "world" });

    await stopAndCheckNothingIsLeft(launcher, stateDir);
  });

  it("unseals from the keys file on the next start, keeping the data; --fresh starts over", { timeout: 120_000 }, async () => {
    const again = startLauncher(stateDir);
    await waitForOutput(again, READY);
    expect(again.output()).toContain("every node unsealed from it");
    const node = clusterRecord(stateDir).nodes[0]!;
    const read = await nodeVault({ endpoint: node.apiAddr, token: rootToken }).read("secret/data/hello");
    expect(read.data.data).toEqual({ value: "world" });
    await stopAndCheckNothingIsLeft(again, stateDir);

    const fresh = startLauncher(stateDir, "--fresh");
    await waitForOutput(fresh, READY);
    expect(fresh.output()).toContain("just initialised");
    const newToken = (JSON.parse(readFileSync(join(stateDir, "keys.json"), "utf8")) as UnsealKeys).rootToken;
    expect(newToken).not.toBe(rootToken);
    const vault = nodeVault({ endpoint: clusterRecord(stateDir).nodes[1]!.apiAddr, token: newToken });
    await expect(vault.read("secret/data/hello")).rejects.toMatchObject({ response: { statusCode: 404 } });
    await stopAndCheckNothingIsLeft(fresh, stateDir);
  });

  it("refuses a state folder from another version and says how to start over", async () => {
    const oldDir = mkdtempSync(join(tmpdir(), "strongbox-local-cluster-old-"));
    try {
      writeFileSync(join(oldDir, "version"), `${JSON.stringify({ strongbox: "0.0.1", layout: 1 })}\n`);
      const launcher = startLauncher(oldDir);
      expect(await launcher.exited).toBe(1);
      expect(launcher.output()).toMatch(/made by Strongbox 0\.0\.1 .*--fresh/);
    } finally {
      rmSync(oldDir, { recursive: true, force: true });
    }
  });
});
