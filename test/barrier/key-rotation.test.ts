import { describe, expect, it } from "vitest";
import { AesGcmBarrier } from "../../src/barrier/aes-gcm-barrier.js";
import { KeyRotation } from "../../src/barrier/key-rotation.js";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";

type Json = Record<string, any>;

async function openBarrier() {
  const physical = new InmemBackend();
  const barrier = new AesGcmBarrier(physical);
  const key = crypto.getRandomValues(new Uint8Array(32));
  await barrier.initialize(key);
  await barrier.unseal(key);
  return { physical, barrier, key };
}

describe("barrier key rotation", () => {
  it("rotates by itself once the active term reaches the encryption threshold", async () => {
    const { barrier } = await openBarrier();
    const rotation = new KeyRotation(barrier, Date.now, 5);
    await rotation.initialize();
    for (let i = 0; i < 3; i++) await barrier.put(`k${i}`, new Uint8Array([i]));
    await rotation.countEncryptions();
    expect(barrier.activeTerm()).toBe(1);
    for (let i = 3; i < 6; i++) await barrier.put(`k${i}`, new Uint8Array([i]));
    await rotation.countEncryptions();
    expect(barrier.activeTerm()).toBe(2);
    const status = await rotation.status();
    expect(status.term).toBe(2);
    expect(status.encryptions).toBeLessThan(5);
    // Entries of the first term still read.
    expect(await barrier.get("k0")).toEqual(new Uint8Array([0]));
  });

  it("counts encryptions across active terms through storage (a new active continues the count)", async () => {
    const { physical, barrier, key } = await openBarrier();
    const first = new KeyRotation(barrier, Date.now);
    await first.initialize();
    for (let i = 0; i < 1_200; i++) await barrier.put(`k${i}`, new Uint8Array([1]));
    await first.countEncryptions();
    const other = new AesGcmBarrier(physical);
    await other.unseal(key);
    const next = new KeyRotation(other, Date.now);
    expect((await next.status()).encryptions).toBeGreaterThanOrEqual(1_200);
  });
});

describe("sys/rotate and sys/key-status", () => {
  async function unsealedNode() {
    const core = new Core({ physical: new InmemBackend(), storageType: "inmem" });
    const app = createApp({ core, maxRequestSize: 1 << 20 });
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const response = await app.fetch(
        new Request(`http://strongbox.test/v1/${path}`, {
          method,
          headers: { "x-vault-token": token },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : null) as Json };
    };
    const init = await core.initialize({ secret_shares: 1, secret_threshold: 1 });
    await core.submitUnsealKey(Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0)));
    return { core, call, root: init.root_token };
  }

  it("reports the term, rotates on request, and keeps old entries readable", async () => {
    const { call, root } = await unsealedNode();
    await call("POST", "sys/mounts/kv", root, { type: "kv" });
    expect((await call("POST", "kv/before", root, { v: "1" })).status).toBe(204);
    const before = await call("GET", "sys/key-status", root);
    expect(before.status).toBe(200);
    expect(before.body.data).toMatchObject({ term: 1 });
    expect(before.body.term).toBe(1); // Vault repeats it at the top level
    expect(Date.parse(before.body.data.install_time)).toBeGreaterThan(Date.now() - 60_000);
    expect(before.body.data.encryptions).toBeGreaterThan(0);

    expect((await call("POST", "sys/rotate", root)).status).toBe(204);
    const after = await call("GET", "sys/key-status", root);
    expect(after.body.data).toMatchObject({ term: 2 });
    expect((await call("GET", "kv/before", root)).body.data).toEqual({ v: "1" });
  });

  it("needs sudo for both endpoints", async () => {
    const { call, root } = await unsealedNode();
    await call("PUT", "sys/policies/acl/operator", root, { policy: 'path "sys/*" { capabilities = ["create", "read", "update"] }' });
    const token = (await call("POST", "auth/token/create", root, { policies: ["operator"] })).body.auth.client_token as string;
    expect((await call("POST", "sys/rotate", token)).status).toBe(403);
    expect((await call("GET", "sys/key-status", token)).status).toBe(403);
  });
});
