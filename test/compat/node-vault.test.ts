import { statSync } from "node:fs";
import nodeVault from "node-vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../helpers/file-server.js";

/** Drives a real server process with the unchanged npm Vault client over real sockets. */
describe("node-vault against a real Strongbox process (file storage)", () => {
  let node: FileServer;
  let vault: ReturnType<typeof nodeVault>;
  let unsealKeys: string[] = [];
  let rootToken = "";

  beforeAll(async () => {
    node = await startFileServer("compat");
    vault = nodeVault({ endpoint: node.server.apiAddr });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it("initialises and unseals", async () => {
    expect(await vault.initialized()).toMatchObject({ initialized: false });
    const init = await vault.init({ secret_shares: 3, secret_threshold: 2 });
    expect(init.keys).toHaveLength(3);
    unsealKeys = init.keys;
    rootToken = init.root_token;
    vault.token = rootToken;
    await vault.unseal({ key: init.keys[0] });
    const status = await vault.unseal({ key: init.keys[2] });
    expect(status.sealed).toBe(false);
    expect((await vault.status()).sealed).toBe(false);
    expect((await vault.health()).initialized).toBe(true);
  });

  it("writes and reads KV v1", async () => {
    await vault.mount({ mount_point: "kv1", type: "kv", options: { version: "1" } });
    await vault.write("kv1/app/db", { password: "s3cret", port: 5432 });
    const read = await vault.read("kv1/app/db");
    expect(read.data).toEqual({ password: "s3cret", port: 5432 });
    const list = await vault.list("kv1/app");
    expect(list.data.keys).toEqual(["db"]);
    await vault.delete("kv1/app/db");
    await expect(vault.read("kv1/app/db")).rejects.toMatchObject({ response: { statusCode: 404 } });
  });

  it("writes and reads KV v2 with versions", async () => {
    await vault.mount({ mount_point: "kv2", type: "kv-v2" });
    const first = await vault.write("kv2/data/app", { data: { v: 1 } });
    expect(first.data.version).toBe(1);
    await vault.write("kv2/data/app", { data: { v: 2 } });
    expect((await vault.read("kv2/data/app")).data.data).toEqual({ v: 2 });
    expect((await vault.read("kv2/data/app?version=1")).data.data).toEqual({ v: 1 });
    expect((await vault.list("kv2/metadata/")).data.keys).toEqual(["app"]);
  });

  it("creates, uses and revokes a token", async () => {
    const created = await vault.tokenCreate({ policies: ["root"], ttl: "1h" });
    const token = created.auth.client_token;
    vault.token = rootToken; // node-vault adopts any token it creates
    const child = nodeVault({ endpoint: node.server.apiAddr, token });
    expect((await child.tokenLookupSelf()).data.ttl).toBeGreaterThan(3500);
    await vault.tokenRevoke({ token });
    await expect(child.tokenLookupSelf()).rejects.toMatchObject({ response: { statusCode: 403 } });
  });

  it("restarts sealed and serves the same data once unsealed", async () => {
    await node.restart();
    vault = nodeVault({ endpoint: node.server.apiAddr, token: rootToken });
    expect((await vault.status()).sealed).toBe(true);
    await expect(vault.read("kv2/data/app")).rejects.toMatchObject({ response: { statusCode: 503 } });
    await vault.unseal({ key: unsealKeys[1] });
    await vault.unseal({ key: unsealKeys[0] });
    expect((await vault.read("kv2/data/app")).data.data).toEqual({ v: 2 });
  });

  it("moves a mount with remount, and generates a root token from the unseal keys", async () => {
    await vault.mount({ mount_point: "kv-before", type: "kv", options: { version: "1" } });
    await vault.write("kv-before/app", { password: "moved" });
    await vault.remount({ from: "kv-before", to: "kv-after" });
    expect((await vault.read("kv-after/app")).data).toEqual({ password: "moved" });

    const attempt = await vault.generateRootInit({});
    expect(attempt.otp).toHaveLength(attempt.otp_length);
    await vault.generateRootUpdate({ key: unsealKeys[0], nonce: attempt.nonce });
    const done = await vault.generateRootUpdate({ key: unsealKeys[2], nonce: attempt.nonce });
    expect(done.complete).toBe(true);
    const raw = Buffer.from(done.encoded_token, "base64");
    const token = String.fromCharCode(...raw.map((byte: number, i: number) => byte ^ attempt.otp.charCodeAt(i)));
    const lookup = await nodeVault({ endpoint: node.server.apiAddr, token }).tokenLookupSelf();
    expect(lookup.data.policies).toEqual(["root"]);
  });

  it("stores files with owner-only permissions", () => {
    const mode = statSync(node.dataPath).mode & 0o777;
    expect(mode & 0o077).toBe(0);
  });
});
