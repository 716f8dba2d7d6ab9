import type { ChildProcess } from "node:child_process";

/**
 * Resolves once `url` gives any HTTP answer; rejects if `child` exits first or 120 s pass. Wide:
 * a tier's servers start all at once, and on a loaded 2-core machine a JVM alone has taken over 30 s.
 */
export async function waitUntilAnswering(url: string, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error("no answer within 120 s");
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the child has exited (at once if it never ran). */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
