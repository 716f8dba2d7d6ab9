import { randomUUID } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";

/**
 * Writes `file` so that readers see the old contents or the new, never half of them, and the file
 * is 0600 from its first byte. `temp` is the scratch file beside it (same directory, so the rename
 * is atomic); callers whose listings must skip scratch files choose its name.
 */
export async function writeFileAtomically(file: string, contents: string | Uint8Array, temp = `${file}.${randomUUID()}.tmp`): Promise<void> {
  try {
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
