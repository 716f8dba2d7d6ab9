import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface DebianPackage {
  /** The package apt installs, e.g. "python3-hvac". */
  name: string;
  /** True when what the tests need from it is already on the machine. */
  present(): Promise<boolean>;
}

/**
 * Installs the packages that are missing, in one apt-get call (CI starts on a fresh machine).
 * Runs once, in the global setup: dpkg takes a lock, so test files must not install concurrently.
 * Resolves with an error message per package still missing afterwards (empty when all are there).
 */
export async function ensureDebianPackages(packages: DebianPackage[]): Promise<Map<string, string>> {
  const missing: DebianPackage[] = [];
  for (const pkg of packages) if (!(await pkg.present())) missing.push(pkg);
  const problems = new Map<string, string>();
  if (missing.length === 0) return problems;
  const names = missing.map((pkg) => pkg.name);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => run("apt-get", ["install", "-y", "--no-install-recommends", ...names], { env, timeout: 300_000 });
  let failure = "";
  try {
    await install();
  } catch {
    // A fresh machine may have no package lists yet.
    try {
      await run("apt-get", ["update"], { env, timeout: 300_000 });
      await install();
    } catch (error) {
      failure = (error as { stderr?: string }).stderr?.trim().split("\n").slice(-3).join(" ") || (error as Error).message;
    }
  }
  for (const pkg of missing) {
    if (!(await pkg.present())) {
      problems.set(
        pkg.name,
        `Debian package ${pkg.name} is missing and could not be installed (apt-get install -y ${pkg.name}): ${failure || "installed, but still not usable"}`,
      );
    }
  }
  return problems;
}

/** True when `command args…` exits 0. */
export async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    await run(command, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}
