/**
 * Filesystem storage. Key "a/b/c" is the file `<path>/a/b/_c`: folders are directories and values
 * are files named "_" + segment, as in Vault, so "a" and "a/b" can both exist. Each segment is
 * percent-encoded down to [A-Za-z0-9.-] ("_" included, so folder names never start with "_"; "."
 * and ".." fully), so no key can climb out of `path` or collide with another. Writes go to a temp
 * file in the same directory and are renamed into place; files are 0600, directories 0700.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, readdir, rmdir, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { type Backend, BackendInputError } from "../../../src/physical/backend.js";
import type { StorageDriver } from "../../../src/physical/driver.js";
import { StorageOptions } from "../../../src/physical/options.js";
import { writeFileAtomically } from "./atomic-file.js";

const NAME_LIMIT_BYTES = 255;
/** Names this backend writes; anything else in the tree (temp files, strays) is not listed. */
const ENCODED = /^(%|([A-Za-z0-9.-]|%[0-9A-F]{2})+)$/;

/** `storage "file"`: a directory tree on this machine; no HA lock. */
export const fileDriver: StorageDriver = { type: "file", ha: false, create: (options) => createFileBackend(options) };

export async function createFileBackend(options: Record<string, string>): Promise<FileBackend> {
  const root = resolve(new StorageOptions("file", options, {}).required("path"));
  await mkdir(root, { recursive: true, mode: 0o700 });
  return new FileBackend(root);
}

export class FileBackend implements Backend {
  constructor(private readonly root: string) {}

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const bytes = await readFile(this.#locate(key).file);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if (codeOf(error) === "ENOENT") return null;
      throw error;
    }
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const { dir, file } = this.#locate(key);
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFileAtomically(file, value, join(dir, `~${randomUUID()}`));
        return;
      } catch (error) {
        // A concurrent delete removed a directory, empty at that moment, during or after our mkdir.
        if (codeOf(error) === "ENOENT" && attempt < 5) continue;
        throw error;
      }
    }
  }

  async delete(key: string): Promise<void> {
    const { dir, file } = this.#locate(key);
    try {
      await unlink(file);
    } catch (error) {
      if (codeOf(error) !== "ENOENT") throw error;
    }
    // Drop directories this left empty, so list stops showing the folder.
    for (let folder = dir; folder !== this.root; folder = dirname(folder)) {
      try {
        await rmdir(folder);
      } catch (error) {
        if (codeOf(error) !== "ENOENT") return;
      }
    }
  }

  async list(prefix: string): Promise<string[]> {
    if (prefix !== "" && !prefix.endsWith("/")) {
      throw new BackendInputError(`list prefix ${JSON.stringify(prefix)} must be "" or end with "/"`);
    }
    const dir = prefix === "" ? this.root : join(this.root, ...prefix.slice(0, -1).split("/").map(encodeSegment));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (codeOf(error) === "ENOENT") return [];
      throw error;
    }
    const children: string[] = [];
    for (const entry of entries) {
      if (entry.isDirectory()) {
        const name = decodeSegment(entry.name);
        if (name !== null) children.push(`${name}/`);
      } else if (entry.isFile() && entry.name.startsWith("_")) {
        const name = decodeSegment(entry.name.slice(1));
        if (name !== null) children.push(name);
      }
    }
    return children.sort();
  }

  #locate(key: string): { dir: string; file: string } {
    if (key === "") throw new BackendInputError("key must not be empty");
    const segments = key.split("/").map(encodeSegment);
    const name = `_${segments.pop()!}`;
    for (const segment of [...segments, name]) {
      if (segment.length > NAME_LIMIT_BYTES) {
        throw new BackendInputError(`key ${JSON.stringify(key.slice(0, 64))}… has a segment too long for a file name (${NAME_LIMIT_BYTES} bytes once encoded)`);
      }
    }
    const dir = join(this.root, ...segments);
    return { dir, file: join(dir, name) };
  }
}

const encoder = new TextEncoder();

/** A key segment as a name made of [A-Za-z0-9.-] and %XX (never ".", ".." or ""); ZooKeeper's znodes use it too. */
export function encodeSegment(segment: string): string {
  if (segment === "") return "%";
  let encoded = "";
  for (const byte of encoder.encode(segment)) {
    const char = String.fromCharCode(byte);
    encoded += /^[A-Za-z0-9.-]$/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded === "." || encoded === ".." ? encoded.replaceAll(".", "%2E") : encoded;
}

/** The segment a name encodes, or null for names this backend did not write. */
export function decodeSegment(name: string): string | null {
  if (!ENCODED.test(name)) return null;
  if (name === "%") return "";
  try {
    return decodeURIComponent(name);
  } catch {
    return null;
  }
}

function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
