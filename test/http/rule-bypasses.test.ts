/**
 * Ways around Vault's rules that a security review reproduced from outside (issue #35), each
 * replayed over HTTP against an in-process server and refused as Vault refuses it.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { loadLogicalState } from "../../src/logical/state.js";
import { lookupWrapping, unwrap, wrapResponse } from "../../src/logical/wrapping.js";
import { InmemBackend } from "../../src/physical/inmem.js";
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

describe("the response-wrapping policy", () => {
  const refusal = { errors: ['cannot assign policy "response-wrapping"'] };

  it("cannot be given to a token through a role allowing every policy, nor by root", async () => {
    await h.writePolicy("creator", `path "auth/token/create/*" { capabilities = ["update"] }`);
    const creator = await h.tokenWith(["creator"]);
    await h.call("POST", "auth/token/roles/any", { allowed_policies_glob: ["*"] }, h.root);
    const forged = await h.call("POST", "auth/token/create/any", { policies: ["response-wrapping"], no_default_policy: true }, creator);
    expect(forged).toEqual({ status: 400, body: refusal });
    expect(await h.call("POST", "auth/token/create", { policies: ["Response-Wrapping"], no_default_policy: true }, h.root)).toEqual({
      status: 400,
      body: refusal,
    });
    expect((await h.call("POST", "auth/token/create-orphan", { policies: ["response-wrapping", "default"] }, h.root)).status).toBe(400);
  });

  it("cannot be given by an auth method's token_policies (refused at login)", async () => {
    expect((await h.call("POST", "sys/auth/userpass", { type: "userpass" }, h.root)).status).toBe(204);
    await h.call("POST", "auth/userpass/users/mallory", { password: "pw-mallory", token_policies: ["response-wrapping"] }, h.root);
    expect(await h.call("POST", "auth/userpass/login/mallory", { password: "pw-mallory" })).toEqual({ status: 400, body: refusal });
  });

  it("does not make a token a wrapping token: sys/wrapping/* accept only tokens response wrapping made", async () => {
    // A token with the policy but not made by wrapping (as one minted before assigning it was refused).
    const state = await loadLogicalState(new InmemBackend(), { now: Date.now });
    const { token, entry } = await state.tokens.create({ policies: ["response-wrapping"], num_uses: 1, orphan: true });
    await state.cubbyhole.write(await state.tokens.hash(token), "response", { response: JSON.stringify({ data: { planted: "by attacker" } }) });
    await expect(unwrap(state, token)).rejects.toThrow("wrapping token is not valid or does not exist");
    await expect(lookupWrapping(state, token)).rejects.toThrow("wrapping token is not valid or does not exist");
    expect(entry.response_wrapping).toBeUndefined();

    const wrapped = await wrapResponse(state, { data: { genuine: true } }, 60, "sys/wrapping/wrap");
    expect(await unwrap(state, wrapped.wrap_info!.token as string)).toEqual({ data: { genuine: true } });
  });
});
