/**
 * PGP-encrypted key shares, as Vault: init (`pgp_keys`, `recovery_pgp_keys`, `root_token_pgp_key`),
 * rekey (`pgp_keys`) and generate-root (`pgp_key`), and `operator init -…-pgp-keys`. Each holder
 * has a GnuPG home of their own with only their key, so a share that decrypts there was encrypted
 * to that holder alone; the decrypted shares then unseal and authorize.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFileServer, type FileServer } from "../helpers/file-server.js";
import { awskmsStanza, createKmsKey, kmsEndpoint } from "../helpers/kms.js";
import { runHvac } from "../helpers/hvac.js";
import { runCli } from "../helpers/server-process.js";

interface Holder {
  home: string;
  /** base64 of the binary public key, as Vault takes it. */
  publicKey: string;
  /** The binary public key in a file, for the CLI. */
  keyFile: string;
}

const workDir = mkdtempSync(join(tmpdir(), "strongbox-pgp-"));

function gpg(home: string, args: string[], input?: Buffer): Buffer {
  return execFileSync("gpg", ["--homedir", home, "--batch", "--yes", "--quiet", ...args], { input, stdio: ["pipe", "pipe", "pipe"] });
}

function newHolder(name: string): Holder {
  const home = mkdtempSync(join(workDir, `${name}-`));
  const uid = `${name} <${name}@strongbox.test>`;
  // Ed25519 with a Curve25519 encryption subkey: quick to generate.
  gpg(home, ["--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "never"]);
  const binary = gpg(home, ["--export", `${name}@strongbox.test`]);
  const keyFile = join(workDir, `${name}.gpg`);
  writeFileSync(keyFile, binary);
  return { home, publicKey: binary.toString("base64"), keyFile };
}

/** What `echo <base64> | base64 -d | gpg -dq` prints in the holder's home; null when it cannot decrypt. */
function decrypt(holder: Holder, base64Message: string): string | null {
  const result = spawnSync("gpg", ["--homedir", holder.home, "--batch", "--quiet", "--decrypt"], { input: Buffer.from(base64Message, "base64") });
  return result.status === 0 ? result.stdout.toString("utf8") : null;
}

const fromHex = (hex: string) => Buffer.from(hex, "hex").toString("utf8");

let holders: Holder[];

beforeAll(() => {
  holders = ["alice", "bob", "carol"].map(newHolder);
}, 60_000);
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe("Shamir seal: PGP-encrypted unseal keys and root token", () => {
  let node: FileServer;
  let shares: string[] = [];
  let rootToken = "";

  beforeAll(async () => {
    node = await startFileServer("pgp");
  });
  afterAll(() => node?.stop());

  it("refuses keybase: keys, a wrong number of keys and keys that are no keys, leaving the server uninitialised", async () => {
    const keys = holders.map((holder) => holder.publicKey);
    const keybase = await node.api("PUT", "sys/init", { secret_shares: 3, secret_threshold: 2, pgp_keys: ["keybase:alice", ...keys.slice(1)] });
    expect(keybase.status).toBe(400);
    expect(keybase.body.errors[0]).toContain('"keybase:" keys are not supported');
    const tooFew = await node.api("PUT", "sys/init", { secret_shares: 3, secret_threshold: 2, pgp_keys: keys.slice(0, 2) });
    expect(tooFew).toEqual({ status: 400, body: { errors: ["incorrect number of PGP keys"] } });
    const notAKey = await node.api("PUT", "sys/init", {
      secret_shares: 1,
      secret_threshold: 1,
      root_token_pgp_key: Buffer.from("not a key").toString("base64"),
    });
    expect(notAKey.status).toBe(400);
    expect(notAKey.body.errors[0]).toContain("error parsing given PGP key");
    const recoveryOnShamir = await node.api("PUT", "sys/init", { secret_shares: 3, secret_threshold: 2, recovery_pgp_keys: keys });
    expect(recoveryOnShamir.status).toBe(400);
    expect((await node.api("GET", "sys/init")).body).toEqual({ initialized: false });
  });

  it("encrypts share i to key i (hex and base64 of one message) and the root token's hex to its key; the decrypted shares unseal", async () => {
    const init = await node.api("PUT", "sys/init", {
      secret_shares: 3,
      secret_threshold: 2,
      pgp_keys: holders.map((holder) => holder.publicKey),
      root_token_pgp_key: holders[2]!.publicKey,
    });
    expect(init.status).toBe(200);
    const { keys, keys_base64: keysBase64, root_token: encryptedRoot } = init.body as { keys: string[]; keys_base64: string[]; root_token: string };
    expect(keys.map((hex) => Buffer.from(hex, "hex").toString("base64"))).toEqual(keysBase64);
    shares = holders.map((holder, i) => {
      for (const [j, other] of holders.entries()) if (j !== i) expect(decrypt(other, keysBase64[i]!)).toBeNull();
      const share = decrypt(holder, keysBase64[i]!);
      expect(share).toMatch(/^[0-9a-f]{66}$/);
      return share!;
    });
    expect(decrypt(holders[0]!, encryptedRoot)).toBeNull();
    rootToken = fromHex(decrypt(holders[2]!, encryptedRoot)!);
    expect(rootToken).toMatch(/^hvs\./);

    await node.restart();
    expect((await node.api("PUT", "sys/unseal", { key: shares[0] })).body.sealed).toBe(true);
    expect((await node.api("PUT", "sys/unseal", { key: shares[2] })).body.sealed).toBe(false);
    const self = await node.api("GET", "auth/token/lookup-self", undefined, rootToken);
    expect(self.status).toBe(200);
    expect(self.body.data.policies).toEqual(["root"]);
  });

  it("rekey with pgp_keys: new shares encrypted to the given keys, fingerprints reported, and they unseal", async () => {
    const start = await node.api(
      "PUT",
      "sys/rekey/init",
      { secret_shares: 2, secret_threshold: 2, pgp_keys: [holders[1]!.publicKey, holders[0]!.publicKey] },
      rootToken,
    );
    expect(start.status).toBe(200);
    const fingerprints = start.body.pgp_fingerprints as string[];
    expect(fingerprints).toHaveLength(2);
    expect(holders[1]!.publicKey).not.toBe(holders[0]!.publicKey);
    expect(gpg(holders[1]!.home, ["--with-colons", "--fingerprint"]).toString()).toContain(fingerprints[0]!.toUpperCase());
    await node.api("PUT", "sys/rekey/update", { key: shares[0], nonce: start.body.nonce }, rootToken);
    const done = await node.api("PUT", "sys/rekey/update", { key: shares[1], nonce: start.body.nonce }, rootToken);
    expect(done.body).toMatchObject({ complete: true, pgp_fingerprints: fingerprints });
    const fresh = [decrypt(holders[1]!, done.body.keys_base64[0])!, decrypt(holders[0]!, done.body.keys_base64[1])!];
    expect(decrypt(holders[0]!, done.body.keys_base64[0])).toBeNull();

    expect((await node.api("PUT", "sys/seal", undefined, rootToken)).status).toBe(204);
    await node.api("PUT", "sys/unseal", { key: fresh[0] });
    expect((await node.api("PUT", "sys/unseal", { key: fresh[1] })).body.sealed).toBe(false);
    shares = fresh;
  });

  it("rekey with backup: the encrypted shares are kept by fingerprint for sys/rekey/backup (sudo) until deleted", async () => {
    const noKeys = await node.api("PUT", "sys/rekey/init", { secret_shares: 2, secret_threshold: 2, backup: true }, rootToken);
    expect(noKeys).toMatchObject({ status: 400, body: { errors: ["cannot request a backup of the new keys without providing PGP keys"] } });
    expect(await node.api("GET", "sys/rekey/backup", undefined, rootToken)).toMatchObject({ status: 400, body: { errors: ["no backed-up keys found"] } });
    const start = await node.api(
      "PUT",
      "sys/rekey/init",
      { secret_shares: 2, secret_threshold: 2, pgp_keys: [holders[0]!.publicKey, holders[1]!.publicKey], backup: true },
      rootToken,
    );
    expect(start.body).toMatchObject({ started: true, backup: true });
    await node.api("PUT", "sys/rekey/update", { key: shares[0], nonce: start.body.nonce }, rootToken);
    const done = await node.api("PUT", "sys/rekey/update", { key: shares[1], nonce: start.body.nonce }, rootToken);
    expect(done.body).toMatchObject({ complete: true, backup: true });
    const [first, second] = done.body.pgp_fingerprints as string[];

    const backup = await node.api("GET", "sys/rekey/backup", undefined, rootToken);
    expect(backup.status).toBe(200);
    expect(backup.body.data).toEqual({
      nonce: start.body.nonce,
      keys: { [first!]: [done.body.keys[0]], [second!]: [done.body.keys[1]] },
      keys_base64: { [first!]: [done.body.keys_base64[0]], [second!]: [done.body.keys_base64[1]] },
    });
    // hvac reads the same backup, as its own rekey tests do.
    const viaHvac = await runHvac("print(json.dumps(client.sys.read_backup_keys()))", { VAULT_ADDR: node.server.apiAddr, VAULT_TOKEN: rootToken });
    expect(viaHvac.code, viaHvac.stderr).toBe(0);
    expect(JSON.parse(viaHvac.stdout).data).toEqual(backup.body.data);
    shares = [decrypt(holders[0]!, backup.body.data.keys_base64[first!][0])!, decrypt(holders[1]!, backup.body.data.keys_base64[second!][0])!];
    expect((await node.api("PUT", "sys/seal", undefined, rootToken)).status).toBe(204);
    await node.api("PUT", "sys/unseal", { key: shares[0] });
    expect((await node.api("PUT", "sys/unseal", { key: shares[1] })).body.sealed).toBe(false);

    // Root-protected, as in Vault: read on the path is not enough.
    await node.api("PUT", "sys/policies/acl/backup-reader", { policy: 'path "sys/rekey/backup" { capabilities = ["read", "delete"] }' }, rootToken);
    const reader = (await node.api("POST", "auth/token/create", { policies: ["backup-reader"] }, rootToken)).body.auth.client_token;
    expect((await node.api("GET", "sys/rekey/backup", undefined, reader)).status).toBe(403);
    expect((await node.api("GET", "sys/rekey-recovery-key/backup", undefined, rootToken)).body).toEqual({ errors: ["no backed-up keys found"] });
    expect((await node.api("DELETE", "sys/rekey/backup", undefined, rootToken)).status).toBe(204);
    expect((await node.api("GET", "sys/rekey/backup", undefined, rootToken)).body).toEqual({ errors: ["no backed-up keys found"] });
  });

  it("generate-root with pgp_key: the new root token's hex encrypted to that key, which alone decrypts it", async () => {
    const start = await node.api("PUT", "sys/generate-root/attempt", { pgp_key: holders[2]!.publicKey });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ started: true, otp: "" });
    expect(start.body.pgp_fingerprint).toMatch(/^[0-9a-f]{40}$/);
    await node.api("PUT", "sys/generate-root/update", { key: shares[0], nonce: start.body.nonce });
    const done = await node.api("PUT", "sys/generate-root/update", { key: shares[1], nonce: start.body.nonce });
    expect(done.body.complete).toBe(true);
    expect(decrypt(holders[0]!, done.body.encoded_token)).toBeNull();
    const token = fromHex(decrypt(holders[2]!, done.body.encoded_token)!);
    expect(token).not.toBe(rootToken);
    expect((await node.api("GET", "auth/token/lookup-self", undefined, token)).body.data.policies).toEqual(["root"]);
    const both = await node.api("PUT", "sys/generate-root/attempt", { pgp_key: holders[2]!.publicKey, otp: "x".repeat(28) });
    expect(both.status).toBe(400);
  });
});

describe("awskms seal: operator init -recovery-pgp-keys", () => {
  let node: FileServer;

  beforeAll(async () => {
    node = await startFileServer("pgp-kms", [awskmsStanza(await createKmsKey(), kmsEndpoint())]);
  });
  afterAll(() => node?.stop());

  it("returns recovery shares only the matching GnuPG keys decrypt, which then authorize generate-root", async () => {
    const addr = `http://127.0.0.1:${new URL(node.server.apiAddr).port}`;
    const files = holders.map((holder) => holder.keyFile).join(",");
    const cli = await runCli(
      [
        "operator",
        "init",
        "-recovery-shares=3",
        "-recovery-threshold=2",
        `-recovery-pgp-keys=${files}`,
        `-root-token-pgp-key=${holders[0]!.keyFile}`,
        "-format=json",
      ],
      { VAULT_ADDR: addr },
    );
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    const init = JSON.parse(cli.stdout) as { recovery_keys_b64: string[]; root_token: string; unseal_keys_b64: string[] };
    expect(init.unseal_keys_b64).toEqual([]);
    const recovery = holders.map((holder, i) => {
      expect(decrypt(holders[(i + 1) % 3]!, init.recovery_keys_b64[i]!)).toBeNull();
      return decrypt(holder, init.recovery_keys_b64[i]!)!;
    });
    expect(fromHex(decrypt(holders[0]!, init.root_token)!)).toMatch(/^hvs\./);

    const start = await node.api("PUT", "sys/generate-root/attempt", {});
    await node.api("PUT", "sys/generate-root/update", { key: recovery[1], nonce: start.body.nonce });
    const done = await node.api("PUT", "sys/generate-root/update", { key: recovery[2], nonce: start.body.nonce });
    expect(done.body).toMatchObject({ complete: true });
    expect(done.body.encoded_token).not.toBe("");

    const pgpOnShares = await runCli(["operator", "init", `-pgp-keys=${files}`], { VAULT_ADDR: addr });
    expect(pgpOnShares.code).not.toBe(0);
    expect(pgpOnShares.stderr).toContain('use "recovery_pgp_keys"');
  });

  it("refuses a keybase: name and an armored key file in the CLI before asking the server", async () => {
    const armored = join(workDir, "armored.asc");
    writeFileSync(armored, gpg(holders[0]!.home, ["--armor", "--export", "alice@strongbox.test"]));
    for (const [flag, message] of [
      ["-root-token-pgp-key=keybase:alice", '"keybase:" keys are not supported'],
      [`-root-token-pgp-key=${armored}`, "ASCII-armored"],
    ] as const) {
      const cli = await runCli(["operator", "init", flag], { VAULT_ADDR: "http://127.0.0.1:9" });
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain(message);
    }
  });
});
