import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";

export interface WranglerDev {
  /** e.g. "http://127.0.0.1:41234" */
  url: string;
  /** Everything wrangler and the Worker wrote so far (the Worker's console output included). */
  output(): string;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WRANGLER = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");

/**
 * Keeps wrangler off the network (no telemetry, update check — it comes with the banner — or
 * `Request.cf` download), away from prompts, and from loading a developer's `.env` into the Worker.
 */
const WRANGLER_ENV = {
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
};

/**
 * `wrangler dev` (the repository's wrangler.toml, real workerd) on free loopback ports, with
 * `vars` passed as `--var` (they override `[vars]`, and stand in for secrets).
 */
export async function startWranglerDev(vars: Record<string, string>): Promise<WranglerDev> {
  for (let attempt = 1; ; attempt++) {
    const [port, inspectorPort] = [await freePort(), await freePort()];
    const stateDir = mkdtempSync(join(tmpdir(), "strongbox-wrangler-"));
    const child = spawn(
      process.execPath,
      [
        WRANGLER,
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(inspectorPort),
        "--persist-to",
        stateDir,
        "--show-interactive-dev-session=false",
        ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ...WRANGLER_ENV, WRANGLER_LOG_PATH: stateDir },
        stdio: ["ignore", "pipe", "pipe"],
        // Its own process group, so a stuck wrangler and its workerd can be killed together.
        detached: true,
      },
    );
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      await stopChild(child);
      rmSync(stateDir, { recursive: true, force: true });
    };
    try {
      await waitForReady(child, () => output, url);
      return { url, output: () => output, stop };
    } catch (error) {
      await stop();
      // Someone else may have taken a port between freePort() and wrangler binding it.
      if (attempt < 3 && /EADDRINUSE|Address already in use/.test(output)) continue;
      throw new Error(`wrangler dev did not start: ${(error as Error).message}\n${output}`);
    }
  }
}

async function waitForReady(child: ChildProcess, output: () => string, url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler exited with code ${child.exitCode}`);
    if (output().includes(`Ready on ${url}`)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("not ready within 60 s");
}

/** SIGTERM lets wrangler stop workerd; after 5 s, SIGKILL to wrangler's whole process group. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
