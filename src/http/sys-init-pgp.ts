/**
 * `sys/init` with `pgp_keys`, `recovery_pgp_keys` and `root_token_pgp_key`: every share encrypted
 * to its own public key, the root token to one, as Vault answers (hex and base64 of each binary
 * OpenPGP message; `root_token` as base64).
 */
import type { Core, InitRequest, InitResult } from "../core.js";
import { toBase64, toHex } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import { encryptFor, encryptShares, hasPgpKeys, type PgpRecipient, readPgpKeys } from "../seal/pgp.js";

export interface InitPgpKeys {
  keys?: PgpRecipient[];
  recovery?: PgpRecipient[];
  rootToken?: PgpRecipient;
}

/** Checked against the seal and the share counts before anything is generated. */
export async function initPgpKeys(core: Core, body: Record<string, unknown>, request: InitRequest): Promise<InitPgpKeys> {
  const { recovery_seal: recoverySeal, type } = (await core.sealStatus()) as { recovery_seal: boolean; type: string };
  const found: InitPgpKeys = {};
  if (hasPgpKeys(body.pgp_keys)) {
    if (recoverySeal) throw new LogicalError(400, `"pgp_keys" encrypts unseal key shares, which the ${type} seal does not hand out; use "recovery_pgp_keys"`);
    found.keys = await readPgpKeys("pgp_keys", body.pgp_keys);
    if (found.keys.length !== request.secret_shares) throw new LogicalError(400, "incorrect number of PGP keys");
  }
  if (hasPgpKeys(body.recovery_pgp_keys)) {
    if (!recoverySeal) throw new LogicalError(400, `"recovery_pgp_keys" encrypts recovery key shares, which the ${type} seal does not have; use "pgp_keys"`);
    found.recovery = await readPgpKeys("recovery_pgp_keys", body.recovery_pgp_keys);
    if (found.recovery.length !== request.recovery_shares) throw new LogicalError(400, "incorrect number of PGP keys for recovery");
  }
  if (hasPgpKeys(body.root_token_pgp_key)) {
    if (typeof body.root_token_pgp_key !== "string") throw new LogicalError(400, `"root_token_pgp_key" must be one base64-encoded PGP public key`);
    [found.rootToken] = await readPgpKeys("root_token_pgp_key", [body.root_token_pgp_key]);
  }
  return found;
}

export async function encryptInitResult(result: InitResult, pgp: InitPgpKeys): Promise<InitResult> {
  const encrypted = { ...result };
  if (pgp.keys) [encrypted.keys, encrypted.keys_base64] = await encryptShares(result.keys, pgp.keys);
  if (pgp.recovery && result.recovery_keys) [encrypted.recovery_keys, encrypted.recovery_keys_base64] = await encryptShares(result.recovery_keys, pgp.recovery);
  if (pgp.rootToken) encrypted.root_token = toBase64(await encryptFor(pgp.rootToken, toHex(new TextEncoder().encode(result.root_token))));
  return encrypted;
}
