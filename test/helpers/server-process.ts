import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../dist/adapters/node/cli.js", import.meta.url));

/**
 * A node prints its banner within a second or two; on a loaded two-core CI machine, loading the
 * AWS SDK alone has taken over 20 s. Starting is not what these tests judge, so the bound is wide.
 */
const STARTUP_LIMIT_MS = 60_000;

export interface ServerProcess {
  child: ChildProcess;
  /** The `Api Address` the banner printed. */
  apiAddr: string;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL (a crash); resolves once the process has exited. */
  kill(): Promise<void>;
}

/** Spawns the built CLI `strongbox server ...args` and waits until it says it started. */
export async function startServerProcess(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = STARTUP_LIMIT_MS): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, "server", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const apiAddr = await new Promise<string>((resolve, reject) => {
    // A server that never said it started is nobody's to stop later: kill it, or it outlives the test run.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const check = () => {
      const match = /Api Address: (\S+)/.exec(output);
      if (match && output.includes("server started!")) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before starting:\n${output}`));
    });
  });

  return {
    child,
    apiAddr,
    output: () => output,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `strongbox ...args` with only the given environment (plus PATH), so nothing leaks in from the developer's shell. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") reject(error);
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}
