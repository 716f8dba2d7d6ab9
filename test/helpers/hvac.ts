import { execFile } from "node:child_process";
import { inject } from "vitest";

/**
 * Python hvac, a second real Vault client. Debian's python3-hvac lives in the system Python's
 * dist-packages, so scripts run with /usr/bin/python3 (not a pyenv or venv python3 on PATH).
 * The global setup installs the package when missing.
 */
export const HVAC_PYTHON = "/usr/bin/python3";

export interface HvacRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Python script with `client = hvac.Client(url=VAULT_ADDR, token=VAULT_TOKEN)` already made.
 * The script prints what the test asserts (e.g. `print(json.dumps(...))`); `json` and `hvac` are imported.
 */
export function runHvac(script: string, env: { VAULT_ADDR: string; VAULT_TOKEN?: string }): Promise<HvacRun> {
  const unavailable = inject("hvacUnavailable");
  if (unavailable) throw new Error(unavailable);
  const prelude = ["import json, os, sys", "import hvac", "client = hvac.Client(url=os.environ['VAULT_ADDR'], token=os.environ.get('VAULT_TOKEN'))"].join("\n");
  return new Promise((resolve) => {
    execFile(
      HVAC_PYTHON,
      ["-c", `${prelude}\n${script}`],
      { env: { PATH: process.env.PATH, VAULT_ADDR: env.VAULT_ADDR, VAULT_TOKEN: env.VAULT_TOKEN ?? "" }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}
