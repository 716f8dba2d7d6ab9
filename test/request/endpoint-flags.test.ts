import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECRETS_ENGINES } from "../../src/builtin/catalog.js";
import { loadNodeState } from "../../src/audit/node-state.js";
import { InmemBackend } from "../../src/physical/inmem.js";
import { standbyRouter } from "../../src/request/router.js";
import { secretsEngine } from "../../src/sdk/framework.js";
import { encodeJson } from "../../src/sdk/encoding.js";
import { PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

/** An engine whose endpoints declare each flag the router must honour. */
const flagged = () =>
  secretsEngine({
    endpoints: [
      { pattern: "public", unauthenticated: true, operations: { read: async () => ({ data: { served: "without a token" } }) } },
      { pattern: "private", operations: { read: async () => ({ data: { served: "with a token" } }) } },
      { pattern: "root-only", sudo: true, operations: { read: async () => ({ data: { served: "with sudo" } }) } },
      // Writes nothing: a standby may answer it.
      { pattern: "check", standby: true, operations: { update: async ({ data }) => ({ data: { checked: data.value } }) } },
      { pattern: "store", operations: { update: async ({ storage, data }) => (await storage.put("kept", encodeJson(data)), null) } },
      { pattern: "secret-read", standby: false, operations: { read: async () => ({ data: {} }) } },
    ],
  });

beforeAll(() => {
  SECRETS_ENGINES.flagged = flagged;
});
afterAll(() => {
  delete SECRETS_ENGINES.flagged;
});

describe("the router reads what an engine's endpoints declare", () => {
  it("serves an endpoint that needs no token without one, and the others only with one", async () => {
    const { call, root } = await unsealedServer();
    expect((await call("POST", "sys/mounts/flags", { type: "flagged" }, root)).status).toBe(204);
    expect(await call("GET", "flags/public")).toMatchObject({ status: 200, body: { data: { served: "without a token" } } });
    expect(await call("GET", "flags/private")).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await call("GET", "flags/private", undefined, root)).status).toBe(200);
  });

  it("refuses a sudo endpoint to a token whose policy grants read without sudo", async () => {
    const { call, root, writePolicy, tokenWith } = await unsealedServer();
    await call("POST", "sys/mounts/flags", { type: "flagged" }, root);
    await writePolicy("reader", 'path "flags/*" { capabilities = ["read"] }');
    await writePolicy("admin", 'path "flags/*" { capabilities = ["read", "sudo"] }');
    expect(await call("GET", "flags/root-only", undefined, await tokenWith(["reader"]))).toEqual({ status: 403, body: PERMISSION_DENIED });
    expect((await call("GET", "flags/private", undefined, await tokenWith(["reader"]))).status).toBe(200);
    expect((await call("GET", "flags/root-only", undefined, await tokenWith(["admin"]))).status).toBe(200);
  });
});

describe("a standby's read router", () => {
  it("answers reads and the writes declared to write nothing, and no other request", async () => {
    const storage = new InmemBackend();
    const now = () => Date.now();
    const setup = await loadNodeState(storage, { now });
    await setup.mounts.enable("flags", { type: "flagged" });
    const { token } = await setup.tokens.create({ policies: ["root"], display_name: "root" });
    const router = standbyRouter(now, {})(await loadNodeState(storage, { now }), () => Promise.reject(new Error("a node-level operation")));
    const request = (operation: "read" | "update", path: string, data = {}) => router.handle({ operation, path, data, token });

    expect(router.standbyMayAnswer({ operation: "read", path: "flags/private" })).toBe(true);
    expect(await request("read", "flags/private")).toMatchObject({ data: { served: "with a token" } });
    expect(router.standbyMayAnswer({ operation: "update", path: "flags/check" })).toBe(true);
    expect(await request("update", "flags/check", { value: 7 })).toMatchObject({ data: { checked: 7 } });
    expect(router.standbyMayAnswer({ operation: "update", path: "flags/store" })).toBe(false);
    expect(router.standbyMayAnswer({ operation: "read", path: "flags/secret-read" })).toBe(false);
    // The core's own endpoints: policies may be read here, node state may not.
    expect(router.standbyMayAnswer({ operation: "read", path: "sys/policies/acl/default" })).toBe(true);
    expect(router.standbyMayAnswer({ operation: "read", path: "sys/key-status" })).toBe(false);
    expect(router.standbyMayAnswer({ operation: "read", path: "sys/no-such-endpoint" })).toBe(false);
    expect(router.standbyMayAnswer({ operation: "update", path: "sys/policies/acl/default" })).toBe(false);
    // A login endpoint is the active's even when read (jwt's oidc/callback is a GET).
    await setup.auths.enable("jwt", { type: "jwt" });
    const withJwt = standbyRouter(now, {})(await loadNodeState(storage, { now }), () => Promise.reject(new Error("a node-level operation")));
    expect(withJwt.standbyMayAnswer({ operation: "read", path: "auth/jwt/oidc/callback" })).toBe(false);
    expect(withJwt.standbyMayAnswer({ operation: "read", path: "auth/jwt/role/deploy" })).toBe(true);
  });
});
