/** PEM text: reading its blocks and writing one, as Go's encoding/pem does. */
import { fromBase64, toBase64 } from "./encoding.js";

export interface PemBlock {
  label: string;
  der: Uint8Array<ArrayBuffer>;
}

const BEGIN = "-----BEGIN ";
const END = "-----END ";
const DASHES = "-----";
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Every PEM block in `text`, in order, read as Go's pem.Decode reads them, so a bundle Vault takes is
 * taken here and one it passes over is passed over: any label, `Name: value` header lines skipped,
 * the END line naming the same label with nothing after it, and padded standard base64 with only
 * whitespace between its digits. A block that breaks any of these is skipped; text between blocks is
 * ignored.
 */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  // Where earlier searches ended, reused by later blocks so hostile text (thousands of BEGIN lines
  // before one END, or of colon lines) costs one pass rather than one per BEGIN line.
  let headerRun = { from: -1, to: -1 };
  let endSearch = { from: Number.POSITIVE_INFINITY, newline: -1 };
  let at = 0;
  for (;;) {
    const begin = text.startsWith(BEGIN, at) ? at : afterNewline(text.indexOf(`\n${BEGIN}`, at));
    if (begin < 0) return blocks;
    const labelLine = lineAt(text, begin + BEGIN.length);
    at = labelLine.next;
    if (!labelLine.text.endsWith(DASHES)) continue;
    const label = labelLine.text.slice(0, -DASHES.length);
    // Header lines (RFC 1421's `Proc-Type: 4,ENCRYPTED`) run until the first line without a colon.
    let body = labelLine.next;
    if (!(headerRun.from <= body && body <= headerRun.to)) {
      headerRun = { from: body, to: body };
      for (let line = lineAt(text, body); line.text.includes(":"); line = lineAt(text, headerRun.to)) headerRun.to = line.next;
    }
    const headers = body < headerRun.to;
    body = headerRun.to;
    // Without headers the END line may follow the label line at once; otherwise Go looks for it after a newline.
    let end: number;
    if (!headers && text.startsWith(END, body)) {
      end = body;
    } else {
      if (!(endSearch.from <= body && (endSearch.newline < 0 || endSearch.newline >= body))) {
        endSearch = { from: body, newline: text.indexOf(`\n${END}`, body) };
      }
      end = afterNewline(endSearch.newline);
    }
    if (end < 0) continue;
    const trailer = lineAt(text, end + END.length);
    if (trailer.text !== `${label}${DASHES}`) continue;
    const der = decodeBody(text.slice(body, end));
    if (!der) continue;
    blocks.push({ label, der });
    at = trailer.next;
  }
}

/**
 * The DER bytes of a certificate, request or CRL a client sent as text: its first PEM block (as Go's
 * pem.Decode finds it, whatever its label), else the text itself as standard base64; null when it is
 * neither. Only these bytes may reach @peculiar/x509's parsers, never the text: their PEM pattern
 * backtracks exponentially on a few dozen crafted header lines.
 */
export function derFromText(text: string): Uint8Array<ArrayBuffer> | null {
  return pemBlocks(text)[0]?.der ?? decodeBody(text);
}

/** PEM without a trailing newline, as Vault returns its certificates. */
export function pemEncode(der: Uint8Array, label: string): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}

/** The start of the line after a newline found at `newline`, or -1 when none was found. */
function afterNewline(newline: number): number {
  return newline < 0 ? -1 : newline + 1;
}

/** The line from `start` without its CR and then trailing spaces and tabs (as Go's getLine), and where the next line starts. */
function lineAt(text: string, start: number): { text: string; next: number } {
  const newline = text.indexOf("\n", start);
  let stop = newline < 0 ? text.length : newline;
  if (newline > start && text[newline - 1] === "\r") stop--;
  // A loop, not /[ \t]+$/: that regex is quadratic on a long run of spaces followed by anything else.
  while (stop > start && (text[stop - 1] === " " || text[stop - 1] === "\t")) stop--;
  return { text: text.slice(start, stop), next: newline < 0 ? text.length : newline + 1 };
}

/** A block's bytes: Go drops spaces and tabs, its decoder CR and LF; anything else must be padded base64. */
function decodeBody(body: string): Uint8Array<ArrayBuffer> | null {
  const digits = body.replace(/[ \t\r\n]/g, "");
  return PADDED_BASE64.test(digits) ? fromBase64(digits) : null;
}
