/** A user lockout is written through the barrier: a node that loads the state afresh keeps refusing the user. */
import { describe, expect, it } from "vitest";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";

const LOCKED = { status: 400, body: { errors: ["permission denied"] } };

/** A node on `physical`; `call` sends one request to it. */
function node(physical: InmemBackend) {
  const app = createApp({ core: new Core({ physical, storageType: "inmem" }), maxRequestSize: 1024 * 1024 });
  return async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await app.fetch(
      new Request(`http://strongbox.test/v1/${path}`, {
        method,
        headers: token ? { "x-vault-token": token } : {},
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      {},
    );
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}

describe("user lockout across nodes sharing storage", () => {
  it("a lockout set by one node holds on the next node to load the state, until unlocked there", async () => {
    const physical = new InmemBackend();
    const first = node(physical);
    const init = await first("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
    const key = init.body.keys_base64[0];
    const root = init.body.root_token;
    await first("PUT", "sys/unseal", { key });
    await first("POST", "sys/auth/userpass", { type: "userpass" }, root);
    await first("PUT", "auth/userpass/users/alice", { password: "right" }, root);
    await first("PUT", "auth/userpass/users/bob", { password: "right" }, root);
    for (let i = 0; i < 5; i++) await first("PUT", "auth/userpass/login/alice", { password: "wrong" });
    // Four failures are counted in memory only: they do not follow the user to another node.
    for (let i = 0; i < 4; i++) await first("PUT", "auth/userpass/login/bob", { password: "wrong" });

    const second = node(physical);
    await second("PUT", "sys/unseal", { key });
    expect(await second("PUT", "auth/userpass/login/alice", { password: "right" })).toEqual(LOCKED);
    expect((await second("PUT", "auth/userpass/login/bob", { password: "right" })).status).toBe(200);
    const accessor = (await second("GET", "sys/auth", undefined, root)).body.data["userpass/"].accessor;
    expect((await second("POST", `sys/locked-users/${accessor}/unlock/alice`, {}, root)).status).toBe(204);

    const third = node(physical);
    await third("PUT", "sys/unseal", { key });
    expect((await third("PUT", "auth/userpass/login/alice", { password: "right" })).status).toBe(200);
  });
});
