/**
 * The transit calls hvac's own transit integration tests make, through hvac against a dev server,
 * and signatures checked by OpenSSL (`openssl dgst -verify`, `openssl pkeyutl -verify`).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runHvac } from "../helpers/hvac.js";

function openssl(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("openssl", args, { timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}` }));
  });
}

describe("transit through hvac and OpenSSL against a dev server", () => {
  let server: DevServer;
  let scratch: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.addr}/v1/${path}`, {
      method,
      headers: { "x-vault-token": server.rootToken },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as { data: Record<string, any> };
  };

  beforeAll(async () => {
    server = await startDevServer();
    scratch = await mkdtemp(join(tmpdir(), "transit-openssl-"));
  });
  afterAll(async () => {
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("answers hvac's transit calls", async () => {
    const run = await runHvac(
      [
        "from base64 import b64encode, b64decode",
        "t = client.secrets.transit",
        "client.sys.enable_secrets_engine(backend_type='transit')",
        "out = {}",
        "for key_type in ['aes256-gcm96', 'chacha20-poly1305', 'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdsa-p521', 'rsa-2048']:",
        "    t.create_key(name='hvac-' + key_type, key_type=key_type, exportable=True)",
        "t.create_key(name='hvac-batch', exportable=True)",
        "out['types'] = sorted(k['type'] for k in [t.read_key(name=n)['data'] for n in t.list_keys()['data']['keys']])",
        "plain = b64encode(b'hi its me hvac').decode()",
        "ct = t.encrypt_data(name='hvac-aes256-gcm96', plaintext=plain)['data']['ciphertext']",
        "out['decrypted'] = b64decode(t.decrypt_data(name='hvac-aes256-gcm96', ciphertext=ct)['data']['plaintext']).decode()",
        "t.rotate_key(name='hvac-aes256-gcm96')",
        "out['rewrapped'] = t.rewrap_data(name='hvac-aes256-gcm96', ciphertext=ct)['data']['ciphertext'][:9]",
        "batch = t.encrypt_data(name='hvac-batch', plaintext='', batch_input=[{'plaintext': plain}, {'plaintext': plain}])['data']['batch_results']",
        "out['batch'] = len(batch)",
        "t.update_key_configuration(name='hvac-aes256-gcm96', min_decryption_version=2)",
        "out['min_decryption_version'] = t.read_key(name='hvac-aes256-gcm96')['data']['min_decryption_version']",
        "try:",
        "    t.decrypt_data(name='hvac-aes256-gcm96', ciphertext=ct)",
        "except hvac.exceptions.InvalidRequest as e:",
        "    out['too_old'] = str(e).split(',')[0]",
        "t.update_key_configuration(name='hvac-aes256-gcm96', min_decryption_version=1)",
        "out['exported'] = len(b64decode(t.export_key(name='hvac-aes256-gcm96', key_type='encryption-key', version='latest')['data']['keys']['2']))",
        "dk = t.generate_data_key(name='hvac-aes256-gcm96', key_type='plaintext', bits=256)['data']",
        "out['datakey'] = t.decrypt_data(name='hvac-aes256-gcm96', ciphertext=dk['ciphertext'])['data']['plaintext'] == dk['plaintext']",
        "out['random'] = len(b64decode(t.generate_random_bytes(n_bytes=24)['data']['random_bytes']))",
        "out['hash'] = t.hash_data(hash_input=plain, algorithm='sha2-256', output_format='hex')['data']['sum']",
        "mac = t.generate_hmac(name='hvac-aes256-gcm96', hash_input=plain, algorithm='sha2-512')['data']['hmac']",
        "out['hmac_valid'] = t.verify_signed_data(name='hvac-aes256-gcm96', hash_input=plain, hmac=mac, hash_algorithm='sha2-512')['data']['valid']",
        "for key_type in ['ed25519', 'ecdsa-p256', 'rsa-2048']:",
        "    sig = t.sign_data(name='hvac-' + key_type, hash_input=plain, hash_algorithm='sha2-256')['data']['signature']",
        "    out['valid_' + key_type] = t.verify_signed_data(name='hvac-' + key_type, hash_input=plain, signature=sig, hash_algorithm='sha2-256')['data']['valid']",
        "sig = t.sign_data(name='hvac-rsa-2048', hash_input=plain, signature_algorithm='pkcs1v15', marshaling_algorithm='asn1')['data']['signature']",
        "out['pkcs1v15'] = t.verify_signed_data(name='hvac-rsa-2048', hash_input=plain, signature=sig, signature_algorithm='pkcs1v15')['data']['valid']",
        "t.update_key_configuration(name='hvac-batch', allow_plaintext_backup=True)",
        "backup = t.backup_key(name='hvac-batch')['data']['backup']",
        "t.restore_key(backup=backup, name='hvac-restored')",
        "out['restored'] = t.decrypt_data(name='hvac-restored', ciphertext=batch[0]['ciphertext'])['data']['plaintext'] == plain",
        "t.rotate_key(name='hvac-chacha20-poly1305')",
        "t.rotate_key(name='hvac-chacha20-poly1305')",
        "t.update_key_configuration(name='hvac-chacha20-poly1305', min_decryption_version=2, min_encryption_version=3)",
        "out['trimmed'] = sorted(t.trim_key(name='hvac-chacha20-poly1305', min_version=2)['data']['keys'])",
        "try:",
        "    t.delete_key(name='hvac-ecdsa-p384')",
        "except hvac.exceptions.InvalidRequest as e:",
        "    out['delete_refused'] = str(e).split(',')[0]",
        "t.update_key_configuration(name='hvac-ecdsa-p384', deletion_allowed=True)",
        "t.delete_key(name='hvac-ecdsa-p384')",
        "out['after_delete'] = 'hvac-ecdsa-p384' in t.list_keys()['data']['keys']",
        "print(json.dumps(out))",
      ].join("\n"),
      { VAULT_ADDR: server.addr, VAULT_TOKEN: server.rootToken },
    );
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      types: ["aes256-gcm96", "aes256-gcm96", "chacha20-poly1305", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-2048"],
      decrypted: "hi its me hvac",
      rewrapped: "vault:v2:",
      batch: 2,
      min_decryption_version: 2,
      too_old: "ciphertext or signature version is disallowed by policy (too old)",
      exported: 32,
      datakey: true,
      random: 24,
      hash: "ec7c3addfcfb49a97c490b57db7105be0c0f0e3a7a101e40f427484844b3fa0a",
      hmac_valid: true,
      valid_ed25519: true,
      "valid_ecdsa-p256": true,
      "valid_rsa-2048": true,
      pkcs1v15: true,
      restored: true,
      trimmed: ["2", "3"],
      delete_refused: "error deleting policy hvac-ecdsa-p384: deletion is not allowed for this key",
      after_delete: false,
    });
  });

  it("signs what OpenSSL verifies: ECDSA, RSA PSS and PKCS #1 v1.5, Ed25519", async () => {
    const message = join(scratch, "message");
    await writeFile(message, "signed by strongbox, checked by openssl");
    const input = Buffer.from("signed by strongbox, checked by openssl").toString("base64");
    const verifyWith = async (key: string, signature: string, extra: string[]) => {
      const publicKey = (await api("GET", `transit/export/public-key/${key}/1?format=pem`)).data.keys["1"] as string;
      await writeFile(join(scratch, `${key}.pem`), publicKey);
      await writeFile(join(scratch, `${key}.sig`), Buffer.from(signature.replace(/^vault:v1:/, ""), "base64"));
      return openssl([...extra.slice(0, 1), "-verify", join(scratch, `${key}.pem`), ...extra.slice(1), "-signature", join(scratch, `${key}.sig`), message]);
    };
    await api("POST", "transit/keys/ossl-ec", { type: "ecdsa-p384" });
    const ec = (await api("POST", "transit/sign/ossl-ec/sha2-384", { input })).data.signature as string;
    expect(await verifyWith("ossl-ec", ec, ["dgst", "-sha384"])).toMatchObject({ code: 0, output: "Verified OK\n" });

    await api("POST", "transit/keys/ossl-rsa", { type: "rsa-3072" });
    const pss = (await api("POST", "transit/sign/ossl-rsa/sha2-256", { input })).data.signature as string;
    expect(await verifyWith("ossl-rsa", pss, ["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto"])).toMatchObject({
      code: 0,
    });
    const pkcs1 = (await api("POST", "transit/sign/ossl-rsa/sha2-512", { input, signature_algorithm: "pkcs1v15" })).data.signature as string;
    expect(await verifyWith("ossl-rsa", pkcs1, ["dgst", "-sha512"])).toMatchObject({ code: 0, output: "Verified OK\n" });
    const tampered = `vault:v1:${Buffer.from(Buffer.from(pkcs1.slice(9), "base64").map((byte, index) => (index === 5 ? byte ^ 1 : byte))).toString("base64")}`;
    expect((await verifyWith("ossl-rsa", tampered, ["dgst", "-sha512"])).code).toBe(1);
    // Over a digest the client made: the server process's raw RSA (node:crypto) signs it.
    const digest = createHash("sha256").update("signed by strongbox, checked by openssl").digest("base64");
    const prehashed = (await api("POST", "transit/sign/ossl-rsa/sha2-256", { input: digest, prehashed: true, signature_algorithm: "pkcs1v15" })).data
      .signature as string;
    expect(await verifyWith("ossl-rsa", prehashed, ["dgst", "-sha256"])).toMatchObject({ code: 0, output: "Verified OK\n" });

    await api("POST", "transit/keys/ossl-ed", { type: "ed25519" });
    const ed = (await api("POST", "transit/sign/ossl-ed", { input })).data.signature as string;
    const publicKey = (await api("GET", "transit/export/public-key/ossl-ed/1?format=pem")).data.keys["1"] as string;
    await writeFile(join(scratch, "ed.pem"), publicKey);
    await writeFile(join(scratch, "ed.sig"), Buffer.from(ed.replace(/^vault:v1:/, ""), "base64"));
    const checked = await openssl([
      "pkeyutl",
      "-verify",
      "-pubin",
      "-inkey",
      join(scratch, "ed.pem"),
      "-rawin",
      "-in",
      message,
      "-sigfile",
      join(scratch, "ed.sig"),
    ]);
    expect(checked).toMatchObject({ code: 0, output: "Signature Verified Successfully\n" });
  });
});
