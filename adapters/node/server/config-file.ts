import type { Stats } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { parseServerConfig, type ConfigSource, type StorageTypes } from "../../../src/config/parse.js";
import type { Env } from "../../../src/config/values.js";
import { ConfigError, type ServerConfig } from "../../../src/config/types.js";
import { HclSyntaxError, hclToJson, parseHcl } from "../../../src/sdk/hcl.js";

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
    return hclToJson(parseHcl(text));
  } catch (error) {
    if (!(error instanceof HclSyntaxError)) throw error;
    throw new ConfigError(`${file}: invalid HCL: ${file}:${error.line},${error.column}: ${error.problem}`);
  }
}

function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES") return "permission denied";
  return error.message;
}
