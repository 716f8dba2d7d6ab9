import type { Stats } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { parseServerConfig, type ConfigSource, type StorageTypes } from "../../src/config/parse.js";
import type { Env } from "../../src/config/values.js";
import { ConfigError, type ServerConfig } from "../../src/config/types.js";

const CONFIG_EXTENSIONS = new Set([".hcl", ".json"]);

/**
 * Reads `-config` paths (files, or directories whose *.hcl and *.json files are read in name order)
 * and validates them together. Throws ConfigError for anything wrong, naming the file.
 */
export async function loadServerConfig(paths: string[], env: Env, storageTypes: StorageTypes): Promise<ServerConfig> {
  if (paths.length === 0) {
    throw new ConfigError("-config is required: pass -config=<file or directory> (repeatable)");
  }
  const files: string[] = [];
  for (const path of paths) files.push(...(await configFiles(path)));
  if (files.length === 0) {
    throw new ConfigError(`${paths.join(", ")}: no *.hcl or *.json configuration files found`);
  }
  const sources: ConfigSource[] = [];
  for (const file of files) sources.push({ file, body: await readConfigFile(file) });
  return parseServerConfig(sources, env, storageTypes);
}

async function configFiles(path: string): Promise<string[]> {
  if (!(await statConfig(path)).isDirectory()) return [path];
  const names = await readdir(path).catch((error: unknown) => {
    throw new ConfigError(`${path}: cannot list configuration directory: ${reason(error)}`);
  });
  const files: string[] = [];
  for (const name of names.sort()) {
    const file = join(path, name);
    if (CONFIG_EXTENSIONS.has(extname(name).toLowerCase()) && (await statConfig(file)).isFile()) files.push(file);
  }
  return files;
}

function statConfig(path: string): Promise<Stats> {
  return stat(path).catch((error: unknown) => {
    throw new ConfigError(`${path}: cannot read configuration: ${reason(error)}`);
  });
}

async function readConfigFile(file: string): Promise<unknown> {
  const text = await readFile(file, "utf8").catch((error: unknown) => {
    throw new ConfigError(`${file}: cannot read configuration: ${reason(error)}`);
  });
  if (extname(file).toLowerCase() === ".json") {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`${file}: invalid JSON: ${reason(error)}`);
    }
  }
  try {
    return await parseHclInChild(file, text);
  } catch (error) {
    // The converter reports "parse config: [<file>:<line>,<col>: <problem>]"; keep the location, drop the wrapper.
    const detail = reason(error).replace(/^parse config: \[(.*)\]$/s, "$1");
    throw new ConfigError(`${file}: invalid HCL: ${detail}`);
  }
}

/**
 * The HCL parser is Go compiled to WebAssembly: once loaded it stays resident (~50 MB) for the life
 * of the process, for a file read once at startup. A short-lived child process parses instead.
 */
const HCL_CHILD_SCRIPT = `
const { parse } = require(process.argv[1]);
let text = "";
process.stdin.setEncoding("utf8").on("data", (chunk) => (text += chunk)).on("end", () =>
  parse(process.argv[2], text).then(
    (json) => process.stdout.write(JSON.stringify(json)),
    (error) => { process.stderr.write(String(error && error.message || error)); process.exitCode = 2; },
  ));
`;

function parseHclInChild(file: string, text: string): Promise<unknown> {
  const parserModule = createRequire(import.meta.url).resolve("@cdktf/hcl2json");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", HCL_CHILD_SCRIPT, parserModule, file], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(stderr.trim() || `HCL parser exited with ${code}`))));
    child.stdin.end(text);
  });
}

function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES") return "permission denied";
  return error.message;
}
