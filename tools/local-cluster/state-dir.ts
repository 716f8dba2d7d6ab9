/**
 * The local cluster's state folder, kept across runs:
 *
 *   version        which Strongbox and state layout made it (a mismatch stops the launcher)
 *   keys.json      unseal keys and root token (0600)
 *   cluster.json   what runs now: launcher and node pids, addresses, states (no secrets)
 *   s3/            the embedded S3's objects: the cluster's (encrypted) data
 *   dynamodb/      the embedded DynamoDB's tables: the HA lock
 *   nodes/         each node's config (nodeN.hcl) and log (nodeN.log)
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { VERSION } from "../../src/sdk/version.js";
import { writeFileAtomically } from "../../adapters/node/stores/atomic-file.js";

/** Bumped when the folder's layout or contents change incompatibly. */
const STATE_LAYOUT = 1;

export class StateDirError extends Error {
  override name = "StateDirError";
}

export interface StatePaths {
  root: string;
  versionFile: string;
  keysFile: string;
  clusterFile: string;
  s3Dir: string;
  dynamodbDir: string;
  nodesDir: string;
}

export interface UnsealKeys {
  keysBase64: string[];
  threshold: number;
  rootToken: string;
}

export interface NodeRecord {
  name: string;
  pid: number | null;
  apiAddr: string;
  clusterAddr: string;
  state: string;
  log: string;
}

/** cluster.json: lets scripts and tests find the processes and addresses of a running cluster. */
export interface ClusterRecord {
  launcherPid: number;
  state: "starting" | "running" | "stopped";
  stores: { s3: string; dynamodb: string };
  nodes: NodeRecord[];
  /** Every node process started by this run, restarts included. */
  pids: number[];
  lastFailover: { at: string; from: string; to: string; tookMs: number } | null;
}

interface VersionStamp {
  strongbox: string;
  layout: number;
}

export function statePaths(root: string): StatePaths {
  return {
    root,
    versionFile: join(root, "version"),
    keysFile: join(root, "keys.json"),
    clusterFile: join(root, "cluster.json"),
    s3Dir: join(root, "s3"),
    dynamodbDir: join(root, "dynamodb"),
    nodesDir: join(root, "nodes"),
  };
}

/**
 * Creates the folder, or checks that an existing one is a local cluster's from this version;
 * `fresh` wipes it first (only if it is a local cluster's state folder).
 */
export async function prepareStateDir(root: string, fresh: boolean): Promise<StatePaths> {
  const paths = statePaths(root);
  const entries = existsSync(root) ? await readdir(root) : [];
  const ours = entries.includes("version");
  if (entries.length > 0 && !ours) {
    throw new StateDirError(`${root} is not empty and has no "version" file, so it is not a local cluster's state folder; choose another --state-dir`);
  }
  if (fresh && ours) await rm(root, { recursive: true, force: true });
  await mkdir(paths.nodesDir, { recursive: true, mode: 0o700 });
  if (!fresh && ours) {
    const found = await readVersion(paths.versionFile);
    if (found.strongbox !== VERSION || found.layout !== STATE_LAYOUT) {
      throw new StateDirError(
        `${root} was made by Strongbox ${found.strongbox} (state layout ${found.layout}); this is Strongbox ${VERSION} (layout ${STATE_LAYOUT}). ` +
          "Start over with --fresh (this wipes the local cluster's secrets) or choose another --state-dir.",
      );
    }
    return paths;
  }
  await writeFileAtomically(paths.versionFile, `${JSON.stringify({ strongbox: VERSION, layout: STATE_LAYOUT } satisfies VersionStamp)}\n`);
  return paths;
}

async function readVersion(file: string): Promise<VersionStamp> {
  const text = await readFile(file, "utf8");
  try {
    const parsed = JSON.parse(text) as Partial<VersionStamp>;
    return { strongbox: String(parsed.strongbox ?? "unknown"), layout: Number(parsed.layout ?? 0) };
  } catch {
    return { strongbox: text.trim() || "unknown", layout: 0 };
  }
}

export async function readUnsealKeys(paths: StatePaths): Promise<UnsealKeys | null> {
  try {
    return JSON.parse(await readFile(paths.keysFile, "utf8")) as UnsealKeys;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new StateDirError(`cannot read ${paths.keysFile}: ${(error as Error).message}`);
  }
}

export function writeUnsealKeys(paths: StatePaths, keys: UnsealKeys): Promise<void> {
  return writeFileAtomically(paths.keysFile, `${JSON.stringify(keys, null, 2)}\n`);
}

export async function readClusterRecord(paths: StatePaths): Promise<ClusterRecord | null> {
  try {
    return JSON.parse(await readFile(paths.clusterFile, "utf8")) as ClusterRecord;
  } catch {
    return null; // missing or half-written by a launcher that died: nothing to learn from it
  }
}

export function writeClusterRecord(paths: StatePaths, record: ClusterRecord): Promise<void> {
  return writeFileAtomically(paths.clusterFile, `${JSON.stringify(record, null, 2)}\n`);
}
