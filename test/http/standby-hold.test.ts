import { describe, expect, it } from "vitest";
import type { Advertisement } from "../../src/ha/advertisement.js";
import type { Leadership } from "../../src/ha/leadership.js";
import { routeFromStandby } from "../../src/http/standby.js";
import { silentLogger } from "../../src/sdk/logger.js";

const active = { node_id: "b", api_addr: "https://b:8200", cluster_addr: "https://b:8201", epoch: 2, cluster_cert: "cert" } as Advertisement;

/** A standby that sees no active for `lookups` lookups, then `active`, and forwards to it. */
function standby(lookups: number) {
  const forwarding = { forwarded: 0, fallbacks: 0, held: 0, heldMs: 0, holding: 0 };
  const holdingSeen: number[] = [];
  let asked = 0;
  const leadership = {
    forwarding,
    forwarder: { forward: async () => new Response("from the active") },
    forgetLeader: () => {},
    // Never becomes active itself: a held request wakes only at its next look.
    onceActive: () => () => {},
    leader: async () => {
      holdingSeen.push(forwarding.holding);
      return asked++ < lookups ? { isSelf: false, advertisement: null } : { isSelf: false, advertisement: active };
    },
  } as unknown as Leadership;
  return { leadership, forwarding, holdingSeen };
}

const route = (leadership: Leadership, holdMs: number) =>
  routeFromStandby(
    { leadership, logger: silentLogger, holdMs, serveHere: async () => new Response("here") },
    new Request("http://a:8200/v1/secret/data/x"),
    undefined,
    undefined,
    new Uint8Array(),
  );

describe("a standby holding requests while no active is known", () => {
  it("counts each held request once, how long it waited, and how many wait now", async () => {
    const { leadership, forwarding, holdingSeen } = standby(3);
    expect(await (await route(leadership, 5_000)).text()).toBe("from the active");
    expect(holdingSeen).toEqual([0, 1, 1, 1]);
    expect(forwarding).toMatchObject({ forwarded: 1, held: 1, holding: 0 });
    expect(forwarding.heldMs).toBeGreaterThan(0);
  });

  it("counts a request whose hold ran out, and none that never waited", async () => {
    const gone = standby(Number.POSITIVE_INFINITY);
    expect((await route(gone.leadership, 120)).status).toBe(503);
    expect(gone.forwarding).toMatchObject({ held: 1, holding: 0 });
    const known = standby(0);
    await route(known.leadership, 5_000);
    expect(known.forwarding).toMatchObject({ forwarded: 1, held: 0, heldMs: 0, holding: 0 });
  });
});
