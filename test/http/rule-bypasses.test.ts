/**
 * Ways around Vault's rules that a security review reproduced from outside (issue #35), each
 * replayed over HTTP against an in-process server and refused as Vault refuses it.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { type InProcessServer, unsealedServer } from "../helpers/in-process-server.js";

let h: InProcessServer;
beforeEach(async () => {
  h = await unsealedServer();
});

describe("a period through a token role", () => {
  it("needs sudo when the caller asks for it, as on auth/token/create", async () => {
    await h.writePolicy("creator", `path "auth/token/create/*" { capabilities = ["update"] }`);
    const creator = await h.tokenWith(["creator"]);
    await h.call("POST", "auth/token/roles/open", { allowed_policies: ["creator"], orphan: true }, h.root);

    const periodic = await h.call("POST", "auth/token/create/open", { policies: ["creator"], period: "2000000h" }, creator);
    expect(periodic.status).toBe(400);
    expect(periodic.body.errors).toEqual(["root or sudo privileges required to create periodic token"]);
    // Without a period the role still serves the same caller, and a sudo caller may ask for one.
    expect((await h.call("POST", "auth/token/create/open", { policies: ["creator"] }, creator)).status).toBe(200);
    const bySudo = await h.call("POST", "auth/token/create/open", { policies: ["creator"], period: "1h" }, h.root);
    expect(bySudo.status).toBe(200);
    expect((await h.call("POST", "auth/token/lookup", { token: bySudo.body.auth.client_token }, h.root)).body.data.period).toBe(3600);
  });

  it("set by the role itself needs no sudo", async () => {
    await h.writePolicy("creator", `path "auth/token/create/*" { capabilities = ["update"] }`);
    const creator = await h.tokenWith(["creator"]);
    await h.call("POST", "auth/token/roles/periodic", { allowed_policies: ["creator"], token_period: "10m" }, h.root);
    const created = await h.call("POST", "auth/token/create/periodic", { policies: ["creator"] }, creator);
    expect(created.status).toBe(200);
    expect((await h.call("POST", "auth/token/lookup", { token: created.body.auth.client_token }, h.root)).body.data.period).toBe(600);
  });
});

describe("sys/capabilities-self", () => {
  it("answers for the caller's own token, never for a token named in the body", async () => {
    await h.writePolicy("reader", `path "secret/*" { capabilities = ["read"] }`);
    const reader = await h.tokenWith(["reader"]);
    const asked = await h.call("POST", "sys/capabilities-self", { token: h.root, path: "sys/seal" }, reader);
    expect(asked.status).toBe(200);
    expect(asked.body.data.capabilities).toEqual(["deny"]);
    expect((await h.call("POST", "sys/capabilities-self", { token: h.root, path: "secret/x" }, reader)).body.data.capabilities).toEqual(["read"]);
  });

  it("cannot probe someone else's single-use token, and answers a single-use caller with its own use", async () => {
    const reader = await h.tokenWith(["default"]);
    const victim = (await h.call("POST", "auth/token/create", { policies: ["default"], num_uses: 1 }, h.root)).body.auth.client_token;
    await h.call("POST", "sys/capabilities-self", { token: victim, path: "secret/x" }, reader);
    // The victim's only use is still there.
    const own = await h.call("POST", "sys/capabilities-self", { path: "auth/token/lookup-self" }, victim);
    expect(own.status).toBe(200);
    expect(own.body.data.capabilities).toEqual(["read"]);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, victim)).status).toBe(403);
  });
});
