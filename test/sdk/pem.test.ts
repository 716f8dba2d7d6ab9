/** The PEM reader against the rules of Go's pem.Decode, which decides what Vault accepts. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { derFromText, pemBlocks, pemEncode } from "../../src/sdk/pem.js";

const DER = Uint8Array.from({ length: 100 }, (_, i) => i);
const BASE64 = Buffer.from(DER).toString("base64");
const block = (label: string, body = BASE64) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const labels = (text: string) => pemBlocks(text).map((b) => b.label);

describe("pemBlocks", () => {
  it("reads what OpenSSL writes, and what pemEncode writes reads back", () => {
    const dir = mkdtempSync(join(tmpdir(), "pem-"));
    writeFileSync(join(dir, "der"), DER);
    const openssl = execFileSync("openssl", ["base64", "-in", join(dir, "der")], { encoding: "utf8" });
    const [read] = pemBlocks(`-----BEGIN CERTIFICATE-----\n${openssl}-----END CERTIFICATE-----\n`);
    expect(read).toEqual({ label: "CERTIFICATE", der: DER });
    expect(pemBlocks(pemEncode(DER, "PRIVATE KEY"))).toEqual([{ label: "PRIVATE KEY", der: DER }]);
  });

  it("takes any label, CRLF lines, spaces and tabs in the body, and trailing blanks after the markers", () => {
    const wrapped = BASE64.replace(/(.{10})/g, "$1 \t\r\n");
    const text = `junk\r\n-----BEGIN x509 crl-----  \r\n${wrapped}\r\n-----END x509 crl-----\t\r\n`;
    expect(pemBlocks(text)).toEqual([{ label: "x509 crl", der: DER }]);
  });

  it("skips RFC 1421 header lines, as Go does, and needs a newline before END after them", () => {
    const headed = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n${BASE64}\n-----END RSA PRIVATE KEY-----\n`;
    expect(pemBlocks(headed)).toEqual([{ label: "RSA PRIVATE KEY", der: DER }]);
    expect(labels("-----BEGIN A-----\n-----END A-----\n")).toEqual(["A"]);
    expect(labels("-----BEGIN A-----\nName: value\n-----END A-----\n")).toEqual([]);
  });

  it("passes over a block Go passes over, and keeps reading after it", () => {
    const broken = [
      block("A", BASE64.replace(/=+$/, "")), // no padding
      block("A", `${BASE64}AA==`), // digits after the padding
      block("A", "not base64!"),
      `-----BEGIN A-----\n${BASE64}\n-----END B-----\n`, // another label at the end
      `-----BEGIN A-----\n${BASE64}\n-----END A----- trailing\n`,
      `-----BEGIN A----\n${BASE64}\n-----END A----\n`, // four dashes
      `text -----BEGIN A-----\n${BASE64}\n-----END A-----\n`, // BEGIN inside a line
      `-----BEGIN A-----\n${BASE64}\n`, // no END
    ];
    for (const text of broken) expect(labels(text), text).toEqual([]);
    expect(labels(broken.join("") + block("GOOD"))).toEqual(["GOOD"]);
    expect(labels(block("ONE") + "between\n" + block("TWO"))).toEqual(["ONE", "TWO"]);
  });

  // Found by thinking as an attacker: each of these made every BEGIN line search the rest of the
  // text again, minutes of one event loop for a few megabytes in a PKI bundle or a transit chain.
  it("reads hostile text in one pass: many BEGIN lines before one END, many label lines that are also header lines", () => {
    const lines = 250_000;
    expect(labels(`${"-----BEGIN A-----\n".repeat(lines)}${BASE64}\n-----END B-----\n`)).toEqual([]);
    expect(labels(`${"-----BEGIN A:B-----\n".repeat(lines)}${BASE64}\n-----END C-----\n`)).toEqual([]);
    // The same lines before an END that fits: the first is the label line and the rest its headers.
    expect(labels(`${"-----BEGIN A:B-----\n".repeat(3)}${BASE64}\n-----END A:B-----\n`)).toEqual(["A:B"]);
  });

  it("gives a client's certificate text to parsers as DER: its first block, else base64, else nothing", () => {
    expect(derFromText(`chain:\n${block("CERTIFICATE")}${block("OTHER", "AAAA")}`)).toEqual(DER);
    expect(derFromText(` ${BASE64}\n`)).toEqual(DER);
    expect(derFromText(`-----BEGIN CERTIFICATE-----\na: b\n${" c: d\n".repeat(40)}!`)).toBeNull();
    expect(derFromText("not base64!")).toBeNull();
  });
});
