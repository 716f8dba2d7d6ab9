import { describe, expect, it } from "vitest";
import type { ForwardedForConfig } from "../../src/config/types.js";
import { resolveForwardedFor } from "../../src/http/forwarded-for.js";
import { parseCidrList } from "../../src/sdk/cidr.js";

const loadBalancer = { address: "10.0.0.9", port: 40123 };
const stranger = { address: "192.0.2.50", port: 50000 };

function settings(overrides: Partial<ForwardedForConfig> = {}): ForwardedForConfig {
  return { authorizedAddrs: parseCidrList(["10.0.0.0/24"], "test"), hopSkips: 0, rejectNotAuthorized: false, rejectNotPresent: false, ...overrides };
}

describe("X-Forwarded-For (Vault's x_forwarded_for_* rules)", () => {
  it("takes the last address of an authorized sender's chain, with the connection's port", () => {
    expect(resolveForwardedFor("198.51.100.1, 203.0.113.4", loadBalancer, settings())).toEqual({ client: { address: "203.0.113.4", port: 40123 } });
  });

  it("skips hops from the rear of the chain", () => {
    const chain = "1.2.3.4, 2.3.4.5, 3.4.5.6, 4.5.6.7";
    expect(resolveForwardedFor(chain, loadBalancer, settings({ hopSkips: 1 }))).toEqual({ client: { address: "3.4.5.6", port: 40123 } });
    expect(resolveForwardedFor(chain, loadBalancer, settings({ hopSkips: 3 }))).toEqual({ client: { address: "1.2.3.4", port: 40123 } });
    expect(resolveForwardedFor(chain, loadBalancer, settings({ hopSkips: 4 }))).toEqual({
      status: 400,
      error: "malformed x-forwarded-for configuration or request, hops to skip (4) would skip before earliest chain link (chain length 4)",
    });
  });

  it("keeps a port the hop names, and reads IPv6 hops", () => {
    expect(resolveForwardedFor("203.0.113.4:5555", loadBalancer, settings())).toEqual({ client: { address: "203.0.113.4", port: 5555 } });
    expect(resolveForwardedFor("[2001:db8::7]:443", loadBalancer, settings())).toEqual({ client: { address: "2001:db8::7", port: 443 } });
    expect(resolveForwardedFor("2001:db8::7", loadBalancer, settings())).toEqual({ client: { address: "2001:db8::7", port: 40123 } });
  });

  it("never trusts the header from a sender not authorized: ignored, or refused when so configured", () => {
    expect(resolveForwardedFor("203.0.113.4", stranger, settings())).toEqual({ client: stranger });
    expect(resolveForwardedFor("203.0.113.4", stranger, settings({ rejectNotAuthorized: true }))).toEqual({
      status: 400,
      error: "client address not authorized for x-forwarded-for and configured to reject connection",
    });
  });

  it("an IPv4 sender on a dual-stack socket is matched as IPv4", () => {
    expect(resolveForwardedFor("203.0.113.4", { address: "::ffff:10.0.0.9", port: 1 }, settings())).toEqual({ client: { address: "203.0.113.4", port: 1 } });
  });

  it("without a header: the connection's address, or refused when so configured", () => {
    expect(resolveForwardedFor(null, loadBalancer, settings())).toEqual({ client: loadBalancer });
    expect(resolveForwardedFor(null, loadBalancer, settings({ rejectNotPresent: true }))).toEqual({
      status: 400,
      error: "missing x-forwarded-for header and configured to reject when not present",
    });
  });

  it("an empty or unparseable chain counts as no header", () => {
    for (const header of ["", "not-an-ip", "203.0.113.4, bogus", "10.0.0.0/8", "1.2.3.4:99999"]) {
      expect(resolveForwardedFor(header, loadBalancer, settings()), header).toEqual({ client: loadBalancer });
      expect(resolveForwardedFor(header, loadBalancer, settings({ rejectNotPresent: true })), header).toMatchObject({
        status: 400,
        error: expect.stringMatching(/^error parsing client address \(.*\) from header$/),
      });
    }
  });
});
