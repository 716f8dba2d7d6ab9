/**
 * sys/rekey/* and sys/generate-root/* take no token: anyone who reaches the API may call them. What
 * keeps an outsider from quietly disrupting an operator's rekey (issue #35 item 6): a young rekey is
 * cancelled only with its nonce, and every such request is audited and logged.
 */
import { describe, expect, it } from "vitest";
import { recordingDevice, serverWithAuditSink } from "../helpers/audited-server.js";

describe("cancelling a rekey", () => {
  it("needs the rekey's nonce in its first 10 minutes, as Vault ≥ 1.20; afterwards not", async () => {
    const { sink } = recordingDevice();
    const h = await serverWithAuditSink(sink);
    const started = await h.call("PUT", "sys/rekey/init", { secret_shares: 3, secret_threshold: 2 });
    const nonce = started.body.nonce as string;

    const anonymous = await h.call("DELETE", "sys/rekey/init");
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.errors[0]).toMatch(/needs its nonce/);
    expect((await h.call("DELETE", "sys/rekey/init", { nonce: "guessed" })).status).toBe(400);
    expect((await h.call("GET", "sys/rekey/init")).body).toMatchObject({ started: true, nonce });
    expect((await h.call("DELETE", "sys/rekey/init?nonce=" + nonce)).status).toBe(204);
    expect((await h.call("GET", "sys/rekey/init")).body.started).toBe(false);

    // An abandoned rekey does not block the next one for ever: after 10 minutes anyone may cancel it.
    await h.call("PUT", "sys/rekey/init", { secret_shares: 3, secret_threshold: 2 });
    h.advance(9 * 60);
    expect((await h.call("DELETE", "sys/rekey/init")).status).toBe(400);
    h.advance(60);
    expect((await h.call("DELETE", "sys/rekey/init")).status).toBe(204);
  });

  it("restarts a rekey verification only with the verification's nonce in its first 10 minutes", async () => {
    const { sink } = recordingDevice();
    const h = await serverWithAuditSink(sink);
    const started = await h.call("PUT", "sys/rekey/init", { secret_shares: 1, secret_threshold: 1, require_verification: true });
    const rekeyed = await h.call("PUT", "sys/rekey/update", { key: h.unsealKey, nonce: started.body.nonce });
    const verificationNonce = rekeyed.body.verification_nonce as string;
    expect(verificationNonce).toMatch(/-/);

    expect((await h.call("DELETE", "sys/rekey/verify")).status).toBe(400);
    expect((await h.call("GET", "sys/rekey/verify")).body.nonce).toBe(verificationNonce);
    const restarted = await h.call("DELETE", "sys/rekey/verify", { nonce: verificationNonce });
    expect(restarted.status).toBe(200);
    expect(restarted.body.nonce).not.toBe(verificationNonce);
  });
});

describe("operator key requests", () => {
  it("are audited (key shares and nonces HMAC'd) and logged without their secrets", async () => {
    const { device, sink } = recordingDevice();
    const h = await serverWithAuditSink(sink);
    expect((await h.call("PUT", "sys/audit/recorder", { type: "file", options: { file_path: "/unused" } }, h.root)).status).toBe(204);
    const attackerOtp = "A".repeat(28);
    const attempt = await h.call("PUT", "sys/generate-root/attempt", { otp: attackerOtp });
    expect(attempt.status).toBe(200);
    expect((await h.call("PUT", "sys/generate-root/update", { key: h.unsealKey, nonce: attempt.body.nonce })).body.complete).toBe(true);
    expect((await h.call("PUT", "sys/generate-root/attempt", {})).status).toBe(200);
    expect((await h.call("DELETE", "sys/generate-root/attempt")).status).toBe(204);
    const rekey = await h.call("PUT", "sys/rekey/init", { secret_shares: 1, secret_threshold: 1 });
    expect((await h.call("DELETE", "sys/rekey/init")).status).toBe(400);

    const audited = device.entries().map((entry) => `${entry.type} ${entry.request.operation} ${entry.request.path}${entry.error ? " !" : ""}`);
    expect(audited).toEqual(
      expect.arrayContaining([
        "request update sys/generate-root/attempt",
        "response update sys/generate-root/attempt",
        "request update sys/generate-root/update",
        "response update sys/generate-root/update",
        "request delete sys/generate-root/attempt",
        "response delete sys/generate-root/attempt",
        "request update sys/rekey/init",
        "request delete sys/rekey/init",
        "response delete sys/rekey/init !",
      ]),
    );
    const update = device.entries().find((entry) => entry.type === "request" && entry.request.path === "sys/generate-root/update");
    expect(update.request.data.key).toMatch(/^hmac-sha256:/);
    expect(update.request.remote_address).toBe("192.0.2.7");
    const everything = device.lines.join("\n");
    for (const secret of [h.unsealKey, attackerOtp, rekey.body.nonce]) expect(everything).not.toContain(secret);

    const log = h.logLines.join("\n");
    expect(log).toMatch(/operator key request served.*path=sys\/generate-root\/attempt.*method=DELETE.*remote_address=192\.0\.2\.7/);
    expect(log).toMatch(/operator key request refused.*path=sys\/rekey\/init.*method=DELETE/);
    expect(log).toMatch(/operator key request served.*path=sys\/generate-root\/update.*complete=true/);
    for (const secret of [h.unsealKey, attackerOtp, rekey.body.nonce]) expect(log).not.toContain(secret);
  });
});
