import { describe, expect, it } from "vitest";
import { Identity } from "../../src/logical/identity/identity.js";
import { InmemBackend } from "../../src/physical/inmem.js";

const HOUR = 3600_000;

describe("identity token keys rotate on schedule", () => {
  it("rotates a key nobody signs with once its rotation_period has passed, keeping the old key published for verification_ttl", async () => {
    const identity = await Identity.open(new InmemBackend(), () => null);
    const start = Date.parse("2030-01-01T00:00:00Z");
    const call = (operation: "read" | "update", path: string, now: number, data: Record<string, unknown> = {}) =>
      identity.handle({ operation, path, data, now });
    await call("update", "oidc/key/quiet", start, { rotation_period: "1h", verification_ttl: "2h" });
    const kids = async (now: number) => {
      const answer = await call("read", "oidc/.well-known/keys", now);
      const document = JSON.parse(Buffer.from(String(answer?.data?.http_raw_body), "base64").toString());
      return (document.keys as { kid: string }[]).map((key) => key.kid);
    };
    const first = await kids(start);
    expect(first).toHaveLength(1);

    await identity.periodic(new Date(start + 30 * 60_000));
    expect(await kids(start + 30 * 60_000)).toEqual(first);

    // Read back at a time before the rotation was due: only the periodic work can have rotated it.
    await identity.periodic(new Date(start + HOUR + 1));
    const afterRotation = await kids(start + 30 * 60_000);
    expect(afterRotation).toHaveLength(2);
    expect(afterRotation).toContain(first[0]);

    // Past the old key's verification_ttl it is no longer published.
    await identity.periodic(new Date(start + 4 * HOUR));
    expect(await kids(start + 4 * HOUR)).not.toContain(first[0]);
  });
});
