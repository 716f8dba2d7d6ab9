import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../helpers/file-server.js";
import { runHvac } from "../helpers/hvac.js";

/** Python hvac's remount, rekey and root generation against a real file-backed server process. */
describe("hvac: remount, rekey and generate-root against a real server", () => {
  let node: FileServer;
  let rootToken = "";
  let unsealKeys: string[] = [];

  const hvac = async (script: string, token = rootToken): Promise<any> => {
    const run = await runHvac(script, { VAULT_ADDR: node.server.apiAddr, VAULT_TOKEN: token });
    if (run.code !== 0) throw new Error(`hvac script failed (${run.code}):\n${run.stderr}`);
    return JSON.parse(run.stdout);
  };
  const api = (method: string, path: string, body?: unknown, token = rootToken) => node.api(method, path, body, token);
  const unseal = (keys: string[]) => hvac(`print(json.dumps(client.sys.submit_unseal_keys(${JSON.stringify(keys)})))`);

  beforeAll(async () => {
    node = await startFileServer("hvac-keys");
    const init = await hvac("print(json.dumps(client.sys.initialize(3, 2)))", "");
    rootToken = init.root_token;
    unsealKeys = init.keys;
    expect((await unseal(unsealKeys.slice(0, 2))).sealed).toBe(false);
  });

  afterAll(async () => {
    await node?.stop();
  });

  it("moves a `generic` (KV v1) mount with its data; the old path is gone and the status names both", async () => {
    const moved = await hvac(
      [
        "client.sys.enable_secrets_engine('generic', path='old-place')",
        "client.write('old-place/app', password='s3cret')",
        "move = client.sys.move_backend('old-place', 'new-place')",
        "mounts = client.sys.list_mounted_secrets_engines()['data']",
        "print(json.dumps({'read': client.read('new-place/app')['data'], 'old': 'old-place/' in mounts, 'type': mounts['new-place/']['type'], 'status': move.status_code if hasattr(move, 'status_code') else move}))",
      ].join("\n"),
    );
    expect(moved.read).toEqual({ password: "s3cret" });
    expect(moved.old).toBe(false);
    expect(moved.type).toBe("kv");
    const id = moved.status.data?.migration_id ?? moved.status.migration_id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const status = await api("GET", `sys/remount/status/${id}`);
    expect(status.body.data).toEqual({ migration_id: id, migration_info: { source_mount: "old-place/", target_mount: "new-place/", status: "success" } });
    expect((await api("GET", "old-place/app")).status).toBe(404);
  });

  it("refuses moves onto a used path, of system mounts, with missing fields, and without sudo", async () => {
    await api("POST", "sys/mounts/other", { type: "kv" });
    expect(await api("POST", "sys/remount", { from: "new-place", to: "other" })).toEqual({
      status: 400,
      body: { errors: ["path is already in use at other/"] },
    });
    expect((await api("POST", "sys/remount", { from: "sys", to: "elsewhere" })).status).toBe(400);
    expect((await api("POST", "sys/remount", { from: "cubbyhole", to: "elsewhere" })).status).toBe(400);
    expect((await api("POST", "sys/remount", { from: "new-place", to: "auth/x" })).status).toBe(400);
    expect((await api("POST", "sys/remount", { from: "new-place" })).status).toBe(400);
    expect((await api("POST", "sys/remount", { from: "missing", to: "x" })).status).toBe(400);
    await api("PUT", "sys/policy/remounter", { policy: `path "sys/remount" { capabilities = ["update"] }` });
    const token = (await api("POST", "auth/token/create", { policies: ["remounter"] })).body.auth.client_token;
    expect((await api("POST", "sys/remount", { from: "new-place", to: "third" }, token)).status).toBe(403);
    expect((await api("GET", "new-place/app")).body.data).toEqual({ password: "s3cret" });
  });

  it("rejects bad rekey input with 400 and changes nothing on a wrong share set", async () => {
    expect((await api("PUT", "sys/rekey/init", { secret_shares: 3, secret_threshold: 2, pgp_keys: ["abc", "def", "ghi"] })).status).toBe(400);
    expect((await api("PUT", "sys/rekey/init", { secret_shares: 3, secret_threshold: 2, backup: true })).status).toBe(400);
    expect((await api("PUT", "sys/rekey/init", { secret_shares: 2, secret_threshold: 3 })).status).toBe(400);
    expect((await api("PUT", "sys/rekey/init", { secret_shares: "3", secret_threshold: 2 })).status).toBe(400);
    expect((await api("PUT", "sys/rekey-recovery-key/init", { secret_shares: 3, secret_threshold: 2 })).status).toBe(400);
    const started = await api("PUT", "sys/rekey/init", { secret_shares: 3, secret_threshold: 2 }, "");
    expect(started.body).toMatchObject({ started: true, t: 2, n: 3, required: 2, progress: 0 });
    const nonce = started.body.nonce;
    expect((await api("PUT", "sys/rekey/update", { key: unsealKeys[0], nonce: "wrong" }, "")).status).toBe(400);
    expect((await api("PUT", "sys/rekey/update", { key: unsealKeys[0], nonce }, "")).body.progress).toBe(1);
    const duplicate = await api("PUT", "sys/rekey/update", { key: unsealKeys[0], nonce }, "");
    expect(duplicate.status).toBe(400);
    // A share of another cluster's key: same length, so it combines, into the wrong key.
    const foreign = "ab".repeat(32) + "07";
    const wrong = await api("PUT", "sys/rekey/update", { key: foreign, nonce }, "");
    expect(wrong.status).toBe(400);
    expect((await api("GET", "sys/rekey/init", undefined, "")).body).toMatchObject({ started: true, nonce, progress: 0 });
    // As Vault ≥ 1.20: a rekey this young is cancelled only with its nonce.
    expect((await api("DELETE", "sys/rekey/init", undefined, "")).status).toBe(400);
    expect((await api("DELETE", "sys/rekey/init", { nonce }, "")).status).toBe(204);
    expect((await api("GET", "sys/rekey/init", undefined, "")).body).toMatchObject({ started: false, nonce: "" });
  });

  it("rekeys with hvac (verification required): old shares stop working, new shares unseal, also after a restart", async () => {
    const rekeyed = await hvac(
      [
        "start = client.sys.start_rekey(secret_shares=4, secret_threshold=3, require_verification=True)",
        `done = client.sys.rekey_multi(${JSON.stringify(unsealKeys.slice(1, 3))}, nonce=start['nonce'])`,
        "print(json.dumps(done))",
      ].join("\n"),
      "",
    );
    expect(rekeyed).toMatchObject({ complete: true, verification_required: true });
    expect(rekeyed.keys).toHaveLength(4);
    // Not in effect before verification: the seal still asks for the old counts.
    expect((await api("GET", "sys/seal-status", undefined, "")).body).toMatchObject({ t: 2, n: 3 });
    expect((await api("GET", "sys/rekey/verify", undefined, "")).body).toMatchObject({
      started: true,
      t: 3,
      n: 4,
      progress: 0,
      nonce: rekeyed.verification_nonce,
    });
    const verified = await hvac(
      [
        `done = client.sys.rekey_verify_multi(${JSON.stringify(rekeyed.keys_base64.slice(0, 3))}, nonce='${rekeyed.verification_nonce}')`,
        "print(json.dumps(done))",
      ].join("\n"),
      "",
    );
    expect(verified).toMatchObject({ complete: true });
    expect((await api("GET", "sys/seal-status", undefined, "")).body).toMatchObject({ t: 3, n: 4 });

    await hvac("client.sys.seal()\nprint('{}')");
    const oldShares = await api("PUT", "sys/unseal", { key: unsealKeys[0] }, "");
    await api("PUT", "sys/unseal", { key: unsealKeys[1] }, "");
    const third = await api("PUT", "sys/unseal", { key: unsealKeys[2] }, "");
    expect(oldShares.status).toBe(200);
    expect(third.status).toBe(400);
    expect((await unseal(rekeyed.keys.slice(1, 4))).sealed).toBe(false);

    await node.restart();
    expect((await unseal(rekeyed.keys.slice(0, 3))).sealed).toBe(false);
    unsealKeys = rekeyed.keys;
  });

  it("generates a root token with hvac; the decoded token works, and bad input is refused", async () => {
    expect((await api("PUT", "sys/generate-root/attempt", { otp: "too-short" }, "")).status).toBe(400);
    expect((await api("PUT", "sys/generate-root/attempt", { pgp_key: "abc" }, "")).status).toBe(400);
    const generated = await hvac(
      [
        "import base64",
        "start = client.sys.start_root_token_generation()",
        "nonce, otp = start['nonce'], start['otp']",
        "assert len(otp) == start['otp_length'], start",
        `keys = ${JSON.stringify(unsealKeys.slice(0, 3))}`,
        "progress = [client.sys.generate_root(key=k, nonce=nonce) for k in keys]",
        "encoded = progress[-1]['encoded_token']",
        "raw = base64.b64decode(encoded + '=' * (-len(encoded) % 4))",
        "token = bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()",
        "user = hvac.Client(url=os.environ['VAULT_ADDR'], token=token)",
        "print(json.dumps({'progress': [p['progress'] for p in progress], 'complete': progress[-1]['complete'], 'token': token, 'policies': user.lookup_token()['data']['policies']}))",
      ].join("\n"),
      "",
    );
    expect(generated).toMatchObject({ progress: [1, 2, 3], complete: true, policies: ["root"] });
    expect(generated.token).toMatch(/^hvs\.[0-9A-Za-z]{24}$/);
    expect(generated.token).not.toBe(rootToken);

    const attempt = await api("PUT", "sys/generate-root/attempt", {}, "");
    expect((await api("PUT", "sys/generate-root/attempt", {}, "")).status).toBe(400);
    expect((await api("PUT", "sys/generate-root/update", { key: unsealKeys[0], nonce: "nope" }, "")).status).toBe(400);
    await api("PUT", "sys/generate-root/update", { key: unsealKeys[0], nonce: attempt.body.nonce }, "");
    expect((await api("PUT", "sys/generate-root/update", { key: unsealKeys[0], nonce: attempt.body.nonce }, "")).status).toBe(400);
    expect((await api("DELETE", "sys/generate-root/attempt", undefined, "")).status).toBe(204);
    expect((await api("GET", "sys/generate-root/attempt", undefined, "")).body).toMatchObject({ started: false, progress: 0, otp_length: 28 });
  });

  it("reads the key status and rotates the barrier key with hvac", async () => {
    const keys = await hvac(
      [
        "before = client.sys.get_encryption_key_status()",
        "client.sys.rotate_encryption_key()",
        "after = client.sys.get_encryption_key_status()",
        "print(json.dumps({'before': before['data']['term'], 'after': after['data']['term']}))",
      ].join("\n"),
    );
    expect(keys.after).toBe(keys.before + 1);
  });
});
