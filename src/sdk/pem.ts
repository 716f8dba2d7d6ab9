/** PEM text: reading its blocks and writing one, as Go's encoding/pem does. */
import { fromBase64, toBase64 } from "./encoding.js";
import { LogicalError } from "./types.js";

export interface PemBlock {
  label: string;
  der: Uint8Array<ArrayBuffer>;
}

/** Every PEM block in `text`, in order; text between blocks is ignored, as Go's pem.Decode does. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const match of text.matchAll(pattern)) {
    try {
      blocks.push({ label: match[1]!, der: fromBase64(match[2]!.replace(/\s+/g, "")) });
    } catch {
      throw new LogicalError(400, "error parsing PEM: invalid base64 in a block");
    }
  }
  return blocks;
}

/** PEM without a trailing newline, as Vault returns its certificates. */
export function pemEncode(der: Uint8Array, label: string): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}
