import { expect, it } from "vitest";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { waitFor } from "../helpers/cluster.js";

it("the active node revokes an expired token's whole tree without anyone using it", async () => {
  let clock = Date.now();
  const physical = new InmemBackend();
  const core = new Core({ physical, storageType: "inmem", now: () => clock });
  const app = createApp({ core, maxRequestSize: 1 << 20 });
  const call = async (path: string, token: string, body: unknown) => {
    const response = await app.fetch(
      new Request(`http://strongbox.test/v1/${path}`, { method: "POST", headers: { "x-vault-token": token }, body: JSON.stringify(body) }),
    );
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as { auth: { client_token: string } };
  };
  const init = await core.initialize({ secret_shares: 1, secret_threshold: 1 });
  await core.submitUnsealKey(Uint8Array.from(atob(init.keys_base64[0]!), (c) => c.charCodeAt(0)));
  try {
    const stored = async () => (await physical.list("sys/token/id/")).length;
    await call("sys/policies/acl/creator", init.root_token, { policy: 'path "auth/token/create" { capabilities = ["update"] }' });
    const parent = (await call("auth/token/create", init.root_token, { ttl: "60s", policies: ["creator"] })).auth.client_token;
    await call("auth/token/create", parent, { ttl: "600s" }); // the child would live 10 minutes on its own
    const withTree = await stored();
    expect(withTree).toBe(3); // root, parent, child
    clock += 61_000;
    // Tokens are stored under their salted hash, so storage is watched, not the tokens (a lookup would revoke them too).
    await waitFor(async () => ((await stored()) === withTree - 2 ? true : null), 15_000, "the expired parent and its child revoked");
  } finally {
    await core.seal();
  }
});
