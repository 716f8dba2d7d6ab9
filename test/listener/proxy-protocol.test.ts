import { describe, expect, it } from "vitest";
import { MAX_V1_LENGTH, MAX_V2_LENGTH, parseProxyHeader, ProxyProtocolError } from "../../adapters/node/server/proxy-protocol.js";

const SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** A v2 header: version/command byte, family/transport byte, then the address block. */
function v2(versionCommand: number, familyTransport: number, body: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length);
  return Buffer.concat([SIGNATURE, Buffer.from([versionCommand, familyTransport]), length, body]);
}

function ipv4Body(source: number[], destination: number[], sourcePort: number, destinationPort: number): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destinationPort, 2);
  return Buffer.concat([Buffer.from(source), Buffer.from(destination), ports]);
}

describe("PROXY protocol v1", () => {
  it("reads TCP4 and TCP6 source addresses and says how long the header was", () => {
    const header = "PROXY TCP4 203.0.113.7 10.0.0.5 51234 8200\r\n";
    expect(parseProxyHeader(Buffer.from(`${header}GET / HTTP/1.1\r\n`))).toEqual({
      kind: "header",
      length: header.length,
      source: { address: "203.0.113.7", port: 51234 },
    });
    expect(parseProxyHeader(Buffer.from("PROXY TCP6 2001:db8:0:0:0:0:0:7 2001:db8::5 443 8200\r\n"))).toMatchObject({
      source: { address: "2001:db8::7", port: 443 },
    });
  });

  it("UNKNOWN keeps the connection's own address", () => {
    expect(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\n"))).toEqual({ kind: "header", length: 15 });
    expect(parseProxyHeader(Buffer.from("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nrest"))).toEqual({ kind: "header", length: 35 });
  });

  it("waits for more bytes while they can still become a header", () => {
    for (const prefix of ["P", "PROXY", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"]) {
      expect(parseProxyHeader(Buffer.from(prefix))).toEqual({ kind: "incomplete" });
    }
  });

  it("refuses malformed headers", () => {
    for (const bad of [
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", // LF without CR
      "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", // a field missing
      "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", // an IPv6 address under TCP4
      "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
      "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", // leading zero
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n",
      "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    ]) {
      expect(() => parseProxyHeader(Buffer.from(bad)), bad).toThrow(ProxyProtocolError);
    }
  });

  it("refuses a line longer than the spec allows, without waiting for its end", () => {
    expect(() => parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${"x".repeat(MAX_V1_LENGTH)}`))).toThrow(/longer than 107/);
    expect(() => parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${"x".repeat(MAX_V1_LENGTH)}\r\n`))).toThrow(/longer than 107/);
  });
});

describe("PROXY protocol v2", () => {
  it("reads a TCP over IPv4 header, skipping TLVs, and leaves the bytes after it", () => {
    const tlv = Buffer.from([0xea, 0x00, 0x03, 0x01, 0x02, 0x03]);
    const header = v2(0x21, 0x11, Buffer.concat([ipv4Body([198, 51, 100, 9], [10, 0, 0, 5], 40000, 8200), tlv]));
    expect(parseProxyHeader(Buffer.concat([header, Buffer.from("\x16\x03\x01")]))).toEqual({
      kind: "header",
      length: header.length,
      source: { address: "198.51.100.9", port: 40000 },
    });
  });

  it("reads a TCP over IPv6 header in its canonical text form", () => {
    const body = Buffer.alloc(36);
    Buffer.from("20010db8000000000000000000000009", "hex").copy(body, 0);
    Buffer.from("20010db8000000000000000000000005", "hex").copy(body, 16);
    body.writeUInt16BE(5555, 32);
    body.writeUInt16BE(8200, 34);
    expect(parseProxyHeader(v2(0x21, 0x21, body))).toMatchObject({ source: { address: "2001:db8::9", port: 5555 } });
  });

  it("LOCAL, UNSPEC and UNIX keep the connection's own address", () => {
    expect(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0)))).toEqual({ kind: "header", length: 16 });
    // LOCAL with an address block (a health check that fills it anyway): still the connection's address.
    expect(parseProxyHeader(v2(0x20, 0x11, ipv4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toEqual({ kind: "header", length: 28 });
    expect(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))).toEqual({ kind: "header", length: 16 });
    expect(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216)))).toEqual({ kind: "header", length: 232 });
  });

  it("waits for the rest of a header announced but not yet received", () => {
    const header = v2(0x21, 0x11, ipv4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    for (const cut of [1, 11, 12, 15, 16, header.length - 1]) {
      expect(parseProxyHeader(header.subarray(0, cut)), `${cut} bytes`).toEqual({ kind: "incomplete" });
    }
  });

  it("refuses malformed headers", () => {
    expect(() => parseProxyHeader(v2(0x11, 0x11, ipv4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toThrow(/version 1/);
    expect(() => parseProxyHeader(v2(0x22, 0x11, ipv4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toThrow(/command 2/);
    expect(() => parseProxyHeader(v2(0x21, 0x11, Buffer.alloc(8)))).toThrow(/too short for IPv4/);
    expect(() => parseProxyHeader(v2(0x21, 0x21, Buffer.alloc(12)))).toThrow(/too short for IPv6/);
    expect(() => parseProxyHeader(v2(0x21, 0x41, Buffer.alloc(12)))).toThrow(/address family 4/);
    expect(() => parseProxyHeader(v2(0x21, 0x13, Buffer.alloc(12)))).toThrow(/transport 3/);
  });

  it("refuses an oversize header from its fixed part alone, without buffering it", () => {
    const fixed = Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    expect(() => parseProxyHeader(fixed)).toThrow(new RegExp(`longer than ${MAX_V2_LENGTH}`));
  });
});

describe("no PROXY header", () => {
  it("is recognised from the first byte that rules one out", () => {
    for (const start of ["GET / HTTP/1.1\r\n", "\x16\x03\x01\x02\x00", "PROXZ", "\r\n\r\n\x01"]) {
      expect(parseProxyHeader(Buffer.from(start, "latin1")), JSON.stringify(start)).toEqual({ kind: "absent" });
    }
  });
});
