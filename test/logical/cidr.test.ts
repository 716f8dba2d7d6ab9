import { describe, expect, it } from "vitest";
import { addressInBlocks, blockWithin, parseCidr, parseCidrList } from "../../src/sdk/cidr.js";

describe("CIDR blocks", () => {
  it.each([
    ["10.0.0.0/8", "10.200.3.4", true],
    ["10.0.0.0/8", "11.0.0.1", false],
    ["127.0.0.1", "127.0.0.1", true],
    ["127.0.0.1", "127.0.0.2", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["192.168.1.0/24", "::ffff:192.168.1.77", true],
    ["192.168.1.0/24", "::ffff:c0a8:0201", false],
    ["2001:db8::/32", "2001:db8:1::5", true],
    ["2001:db8::/32", "2001:db9::1", false],
    ["::1", "::1", true],
    ["::1/128", "[::1]", true],
    ["fe80::/10", "fe80::1%eth0", true],
    ["::ffff:10.0.0.0/104", "10.1.2.3", true],
  ])("%s contains %s: %s", (block, address, expected) => {
    expect(addressInBlocks(address, [parseCidr(block)!])).toBe(expected);
  });

  it.each(["10.0.0.0/33", "300.1.1.1", "10.0.0", "1::2::3", "1:2:3:4:5:6:7:8:9", "::/129", "a/b/c", "", "10.0.0.1/x"])("rejects %j", (text) => {
    expect(parseCidr(text)).toBeNull();
  });

  it("treats a missing or unparseable client address as outside every block", () => {
    expect(addressInBlocks(undefined, [parseCidr("0.0.0.0/0")!])).toBe(false);
    expect(addressInBlocks("not-an-ip", [parseCidr("0.0.0.0/0")!])).toBe(false);
  });

  it("checks that one block lies within another", () => {
    expect(blockWithin(parseCidr("10.1.0.0/16")!, parseCidr("10.0.0.0/8")!)).toBe(true);
    expect(blockWithin(parseCidr("10.0.0.0/8")!, parseCidr("10.1.0.0/16")!)).toBe(false);
    expect(blockWithin(parseCidr("11.0.0.1")!, parseCidr("10.0.0.0/8")!)).toBe(false);
  });

  it("names the invalid entry of a list", () => {
    expect(() => parseCidrList(["10.0.0.0/8", "nope"], "token_bound_cidrs")).toThrow(/token_bound_cidrs: invalid CIDR block or address "nope"/);
  });
});
