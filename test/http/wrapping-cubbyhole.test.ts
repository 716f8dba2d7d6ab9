import { beforeEach, describe, expect, it } from "vitest";
import { INVALID_TOKEN, type InProcessServer, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";

const NOT_VALID = { errors: ["wrapping token is not valid or does not exist"] };

describe("cubbyhole", () => {
  let h: InProcessServer;
  beforeEach(async () => {
    h = await unsealedServer();
  });

  it("is mounted by default, listed in sys/mounts, and cannot be disabled or mounted over", async () => {
    const mounts = await h.call("GET", "sys/mounts", undefined, h.root);
    expect(mounts.body.data["cubbyhole/"]).toMatchObject({ type: "cubbyhole", accessor: expect.stringMatching(/^cubbyhole_/) });
    expect((await h.call("DELETE", "sys/mounts/cubbyhole", undefined, h.root)).body).toEqual({ errors: [`cannot unmount "cubbyhole/"`] });
    expect((await h.call("POST", "sys/mounts/cubbyhole", { type: "kv" }, h.root)).status).toBe(400);
    expect((await h.call("GET", "sys/mounts", undefined, h.root)).body.data["cubbyhole/"].accessor).toBe(mounts.body.data["cubbyhole/"].accessor);
  });

  it("gives every token its own space, root included", async () => {
    const alice = await h.tokenWith([]);
    const bob = await h.tokenWith([]);
    expect((await h.call("PUT", "cubbyhole/note", { owner: "alice" }, alice)).status).toBe(204);
    expect((await h.call("PUT", "cubbyhole/note", { owner: "root" }, h.root)).status).toBe(204);
    expect((await h.call("GET", "cubbyhole/note", undefined, alice)).body).toMatchObject({ data: { owner: "alice" }, mount_type: "cubbyhole" });
    expect((await h.call("GET", "cubbyhole/note", undefined, h.root)).body.data).toEqual({ owner: "root" });
    expect((await h.call("GET", "cubbyhole/note", undefined, bob)).status).toBe(404);
    expect((await h.call("LIST", "cubbyhole", undefined, bob)).body).toEqual({ errors: [] });
    expect((await h.call("LIST", "cubbyhole/", undefined, alice)).body.data.keys).toEqual(["note"]);
    expect((await h.call("DELETE", "cubbyhole/note", undefined, alice)).status).toBe(204);
    expect((await h.call("GET", "cubbyhole/note", undefined, alice)).status).toBe(404);
    expect((await h.call("GET", "cubbyhole/note", undefined, h.root)).status).toBe(200);
  });

  it("rejects empty writes and keys ending in '/'", async () => {
    expect((await h.call("PUT", "cubbyhole/empty", {}, h.root)).body).toEqual({ errors: ["missing data fields"] });
    expect((await h.call("PUT", "cubbyhole/dir/", { a: "b" }, h.root)).status).toBe(400);
    expect((await h.call("PATCH", "cubbyhole/x", { a: "b" }, h.root)).status).toBe(405);
  });

  it("is emptied when its token is revoked or expires", async () => {
    const token = (await h.call("POST", "auth/token/create", { policies: [], ttl: "1h" }, h.root)).body.auth.client_token;
    await h.call("PUT", "cubbyhole/secret", { v: "1" }, token);
    const keysBefore = await cubbyholeStorageKeys(h);
    expect(keysBefore.length).toBe(1);
    h.advance(3601);
    expect((await h.call("GET", "cubbyhole/secret", undefined, token)).body).toEqual(INVALID_TOKEN);
    expect(await cubbyholeStorageKeys(h)).toEqual([]);

    const other = await h.tokenWith([]);
    await h.call("PUT", "cubbyhole/secret", { v: "2" }, other);
    await h.call("POST", "auth/token/revoke", { token: other }, h.root);
    expect(await cubbyholeStorageKeys(h)).toEqual([]);
  });

  it("obeys the ACL: a policy without cubbyhole rules denies it", async () => {
    const noDefault = (await h.call("POST", "auth/token/create", { policies: ["nothing"], no_default_policy: true }, h.root)).body.auth.client_token;
    expect((await h.call("PUT", "cubbyhole/x", { a: "b" }, noDefault)).body).toEqual(PERMISSION_DENIED);
  });
});

/** Every key stored (encrypted) below the cubbyhole mount: each token's entries are under its HMAC. */
async function cubbyholeStorageKeys(h: InProcessServer): Promise<string[]> {
  const { uuid } = (await h.call("GET", "sys/mounts", undefined, h.root)).body.data["cubbyhole/"];
  const walk = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    for (const child of await h.physical.list(prefix)) out.push(...(child.endsWith("/") ? await walk(prefix + child) : [prefix + child]));
    return out;
  };
  return walk(`logical/${uuid}/`);
}

describe("response wrapping", () => {
  let h: InProcessServer;
  const wrapped = (ttl: string) => ({ "x-vault-wrap-ttl": ttl });
  beforeEach(async () => {
    h = await unsealedServer();
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    await h.call("PUT", "secret/app", { db: "pw" }, h.root);
  });

  it("wraps any response into a single-use token whose cubbyhole holds it", async () => {
    const read = await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("5m"));
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ data: null, auth: null });
    const info = read.body.wrap_info;
    expect(info).toMatchObject({ ttl: 300, creation_path: "secret/app", token: expect.stringMatching(/^hvs\./), accessor: expect.any(String) });
    expect(info.wrapped_accessor).toBeUndefined();
    expect(Date.parse(info.creation_time)).not.toBeNaN();

    const looked = await h.call("POST", "sys/wrapping/lookup", { token: info.token });
    expect(looked.body.data).toEqual({ creation_path: "secret/app", creation_ttl: 300, creation_time: info.creation_time });
    const self = await h.call("POST", "auth/token/lookup", { token: info.token }, h.root);
    expect(self.body.data).toMatchObject({ policies: ["response-wrapping"], num_uses: 1, renewable: false, orphan: true, ttl: 300 });

    const unwrapped = await h.call("POST", "sys/wrapping/unwrap", {}, info.token);
    expect(unwrapped.status).toBe(200);
    expect(unwrapped.body).toMatchObject({ data: { db: "pw" }, wrap_info: null, mount_type: "kv" });
    expect((await h.call("POST", "sys/wrapping/unwrap", {}, info.token)).body).toEqual(NOT_VALID);
    expect((await h.call("POST", "sys/wrapping/lookup", { token: info.token })).body).toEqual(NOT_VALID);
  });

  it("unwraps with the token in the body once, however many unwraps race", async () => {
    const info = (await h.call("POST", "sys/wrapping/wrap", { answer: 42 }, h.root, undefined, wrapped("60"))).body.wrap_info;
    expect(info).toMatchObject({ ttl: 60, creation_path: "sys/wrapping/wrap" });
    const caller = await h.tokenWith([]);
    const attempts = await Promise.all(Array.from({ length: 10 }, () => h.call("POST", "sys/wrapping/unwrap", { token: info.token }, caller)));
    const winners = attempts.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.body.data).toEqual({ answer: 42 });
    expect(attempts.filter((a) => a.status === 400).map((a) => a.body)).toEqual(Array(9).fill(NOT_VALID));
  });

  it("wraps sys/wrapping/wrap for 5 minutes when no TTL is asked, and a token creation with its accessor", async () => {
    expect((await h.call("POST", "sys/wrapping/wrap", { a: "b" }, h.root)).body.wrap_info.ttl).toBe(300);
    const created = await h.call("POST", "auth/token/create", { policies: [] }, h.root, undefined, wrapped("1m"));
    const info = created.body.wrap_info;
    expect(created.body.auth).toBeNull();
    const unwrapped = (await h.call("POST", "sys/wrapping/unwrap", {}, info.token)).body;
    expect(info.wrapped_accessor).toBe(unwrapped.auth.accessor);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, unwrapped.auth.client_token)).status).toBe(200);
  });

  it("lets the wrapping token read its response from cubbyhole/response, and nothing else", async () => {
    const info = (await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("1m"))).body.wrap_info;
    const other = (await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("1m"))).body.wrap_info;
    expect((await h.call("GET", "secret/app", undefined, other.token)).body).toEqual(PERMISSION_DENIED);
    const response = await h.call("GET", "cubbyhole/response", undefined, info.token);
    expect(JSON.parse(response.body.data.response).data).toEqual({ db: "pw" });
    expect((await h.call("GET", "cubbyhole/response", undefined, info.token)).body).toEqual(INVALID_TOKEN);
  });

  it("rewraps into a new token with the same TTL and path, spending the old one", async () => {
    const info = (await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("2m"))).body.wrap_info;
    const rewrapped = (await h.call("POST", "sys/wrapping/rewrap", { token: info.token }, h.root)).body.wrap_info;
    expect(rewrapped).toMatchObject({ ttl: 120, creation_path: "secret/app" });
    expect(rewrapped.token).not.toBe(info.token);
    expect((await h.call("POST", "sys/wrapping/unwrap", {}, info.token)).body).toEqual(NOT_VALID);
    expect((await h.call("POST", "sys/wrapping/unwrap", {}, rewrapped.token)).body.data).toEqual({ db: "pw" });
  });

  it("expires with its TTL", async () => {
    const info = (await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("30s"))).body.wrap_info;
    h.advance(31);
    expect((await h.call("POST", "sys/wrapping/unwrap", { token: info.token }, h.root)).body).toEqual(NOT_VALID);
  });

  it("refuses negative or garbage TTLs, caps long ones at the system maximum, and treats 0 as no wrapping", async () => {
    for (const ttl of ["-5", "-1m", "soon", "5 parsecs"]) {
      const answer = await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped(ttl));
      expect(answer.status).toBe(400);
      expect(answer.body.errors[0]).toMatch(/X-Vault-Wrap-TTL/);
    }
    expect((await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("100000h"))).body.wrap_info.ttl).toBe(768 * 3600);
    expect((await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("0"))).body).toMatchObject({ data: { db: "pw" }, wrap_info: null });
  });

  it("answers a bad or non-wrapping token with Vault's 400, and does not spend a normal token given as one", async () => {
    const normal = await h.tokenWith([]);
    expect((await h.call("POST", "sys/wrapping/unwrap", { token: normal }, h.root)).body).toEqual(NOT_VALID);
    expect((await h.call("POST", "sys/wrapping/unwrap", {}, "hvs.nonsense")).body).toEqual(NOT_VALID);
    expect((await h.call("POST", "sys/wrapping/lookup", { token: ["x"] })).body).toEqual(NOT_VALID);
    expect((await h.call("GET", "auth/token/lookup-self", undefined, normal)).status).toBe(200);
    expect((await h.call("GET", "sys/wrapping/lookup", undefined, h.root)).status).toBe(405);
  });

  it("goes through the ACL: rewrap needs a policy granting it, wrap needs the default policy", async () => {
    const info = (await h.call("GET", "secret/app", undefined, h.root, undefined, wrapped("1m"))).body.wrap_info;
    const plain = await h.tokenWith([]);
    expect((await h.call("POST", "sys/wrapping/rewrap", { token: info.token }, plain)).body).toEqual(PERMISSION_DENIED);
    expect((await h.call("POST", "sys/wrapping/wrap", { a: "b" }, plain)).status).toBe(200);
    const bare = (await h.call("POST", "auth/token/create", { policies: ["nothing"], no_default_policy: true }, h.root)).body.auth.client_token;
    expect((await h.call("POST", "sys/wrapping/wrap", { a: "b" }, bare)).body).toEqual(PERMISSION_DENIED);
  });
});
