import { decodeJson, encodeJson, toBase64, toHex } from "../sdk/encoding.js";
import { LogicalError, type Storage } from "../sdk/types.js";
import { encryptShares, hasPgpKeys, type PgpRecipient, readPgpKeys } from "./pgp.js";
import type { Seal, ShareCounts, UnsealKeyWrapping } from "./seal.js";
import { ShareAttempt } from "./share-attempt.js";
import { equalInConstantTime, splitSecret, validateShareParameters } from "./shamir.js";

/** Which shares a rekey replaces: the unseal keys (Shamir seal) or the recovery keys (auto-unseal seal). */
export type RekeyKind = "unseal" | "recovery";

interface RekeyPlan extends ShareCounts {
  requireVerification: boolean;
  /** Keep the PGP-encrypted new shares in storage (sys/rekey/backup), as Vault's `backup`. */
  backup: boolean;
}

/** Where each kind's backup is kept (behind the barrier), as Vault names them. */
const BACKUP_KEYS: Record<RekeyKind, string> = { unseal: "core/unseal-keys-backup", recovery: "core/recovery-keys-backup" };

/** New shares handed out but not in effect until enough of them are given back (require_verification). */
interface PendingKey {
  current: Uint8Array;
  next: Uint8Array;
  verification: ShareAttempt;
}

/**
 * sys/rekey/* (unseal keys) or sys/rekey-recovery-key/* (recovery keys), as Vault: start with the new
 * share counts, give the current shares with the attempt's nonce, receive the new shares. With
 * `require_verification` the new shares take effect only once a threshold of them is given back
 * through .../verify, so shares nobody stored can never become the only way in.
 * With `pgp_keys`, new share i is encrypted to key i (src/seal/pgp.ts); with `backup` too, the
 * encrypted shares are kept in storage by the keys' fingerprints until deleted (sys/rekey/backup).
 */
export class Rekey {
  #plan: RekeyPlan | null = null;
  readonly #attempt: ShareAttempt;
  #pending: PendingKey | null = null;
  #pgpKeys: PgpRecipient[] | null = null;

  constructor(
    readonly kind: RekeyKind,
    private readonly seal: Seal,
    private readonly barrier: UnsealKeyWrapping,
    /** Storage behind the barrier, for the backup. */
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
  ) {
    this.#attempt = new ShareAttempt("rekey", now);
  }

  async status(): Promise<Record<string, unknown>> {
    return {
      nonce: this.#attempt.nonce,
      started: this.#plan !== null,
      t: this.#plan?.threshold ?? 0,
      n: this.#plan?.shares ?? 0,
      progress: this.#attempt.progress,
      required: await this.#required(),
      pgp_fingerprints: this.#fingerprints(),
      backup: this.#plan?.backup ?? false,
      verification_required: this.#plan?.requireVerification ?? false,
      ...(this.#pending && { verification_nonce: this.#pending.verification.nonce }),
    };
  }

  async start(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.#checkKind();
    if (this.#plan) throw new LogicalError(400, "a rekey is already in progress; cancel it first (DELETE .../init) to change its parameters");
    const plan = rekeyPlan(body);
    this.#pgpKeys = hasPgpKeys(body.pgp_keys) ? await readPgpKeys("pgp_keys", body.pgp_keys) : null;
    if (plan.backup && !this.#pgpKeys) throw new LogicalError(400, "cannot request a backup of the new keys without providing PGP keys");
    if (this.#pgpKeys && this.#pgpKeys.length !== plan.shares) throw new LogicalError(400, "incorrect number of PGP keys for rekey");
    this.#plan = plan;
    this.#attempt.begin();
    return this.status();
  }

  /** DELETE .../init: the rekey's nonce is needed in its first minutes (CANCEL_NEEDS_NONCE_MS). */
  cancelRequested(body: Record<string, unknown>): void {
    this.#attempt.checkCancel(body);
    this.cancel();
  }

  cancel(): void {
    this.#plan = null;
    this.#pgpKeys = null;
    this.#attempt.end();
    this.#dropPending();
  }

  /** One current share; the new shares once enough are in. */
  async update(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.#checkKind();
    if (this.#pending) throw new LogicalError(400, "the new key shares are waiting for verification (.../verify); cancel the rekey to start over");
    const plan = this.#plan;
    const current = await this.#attempt.add(body, await this.#required());
    if (!current) return this.status();
    if (!(await this.seal.checkOperatorKey(current, this.barrier))) {
      throw new LogicalError(
        400,
        `the key shares given do not rebuild this cluster's ${this.kind} key (wrong or mismatched shares); nothing was changed, give the shares again`,
      );
    }
    const next = crypto.getRandomValues(new Uint8Array(32));
    const shares = await splitSecret(next, plan!.shares, plan!.threshold);
    const nonce = this.#attempt.nonce;
    const [keys, keysBase64] = this.#pgpKeys ? await encryptShares(shares.map(toHex), this.#pgpKeys) : [shares.map(toHex), shares.map(toBase64)];
    const answer = { complete: true, nonce, keys, keys_base64: keysBase64, pgp_fingerprints: this.#fingerprints(), backup: plan!.backup };
    // Kept as soon as the shares are handed out (as Vault does), so a lost answer loses nothing.
    if (plan!.backup) await this.#writeBackup(nonce, keys, keysBase64);
    if (plan!.requireVerification) {
      const verification = new ShareAttempt("rekey verification", this.now);
      verification.begin();
      this.#pending = { current, next, verification };
      return { ...answer, verification_required: true, verification_nonce: verification.nonce };
    }
    await this.seal.replaceOperatorKey(current, next, plan!, this.barrier);
    this.cancel();
    return { ...answer, verification_required: false };
  }

  verifyStatus(): Record<string, unknown> {
    const verification = this.#requirePending().verification;
    return { nonce: verification.nonce, started: true, t: this.#plan!.threshold, n: this.#plan!.shares, progress: verification.progress };
  }

  /** One of the new shares; the rekey takes effect once a threshold of them rebuild the new key. */
  async verifyUpdate(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const pending = this.#requirePending();
    const given = await pending.verification.add(body, this.#plan!.threshold);
    if (!given) return this.verifyStatus();
    if (!equalInConstantTime(given, pending.next)) {
      throw new LogicalError(400, "the key shares given do not rebuild the new key (wrong or mismatched shares); give the new shares again");
    }
    const nonce = pending.verification.nonce;
    await this.seal.replaceOperatorKey(pending.current, pending.next, this.#plan!, this.barrier);
    this.cancel();
    return { nonce, complete: true };
  }

  /** Starts the verification count again with a new nonce (the verification's nonce is needed in its first minutes); the rekey itself stays. */
  verifyCancel(body: Record<string, unknown>): Record<string, unknown> {
    const { verification } = this.#requirePending();
    verification.checkCancel(body);
    verification.begin();
    return this.verifyStatus();
  }

  /** GET sys/rekey/backup: the encrypted shares of the last rekey that asked for a backup. */
  async backup(): Promise<Record<string, unknown>> {
    const bytes = await this.storage.get(BACKUP_KEYS[this.kind]);
    if (!bytes) throw new LogicalError(400, "no backed-up keys found");
    return decodeJson(bytes);
  }

  async deleteBackup(): Promise<void> {
    await this.storage.delete(BACKUP_KEYS[this.kind]);
  }

  async #writeBackup(nonce: string, keys: string[], keysBase64: string[]): Promise<void> {
    const fingerprints = this.#fingerprints()!;
    const byKey = (values: string[]) => Object.fromEntries(fingerprints.map((fingerprint, i) => [fingerprint, [values[i]!]]));
    await this.storage.put(BACKUP_KEYS[this.kind], encodeJson({ nonce, keys: byKey(keys), keys_base64: byKey(keysBase64) }));
  }

  #requirePending(): PendingKey {
    if (!this.#pending) throw new LogicalError(400, "no rekey verification in progress");
    return this.#pending;
  }

  #dropPending(): void {
    this.#pending?.current.fill(0);
    this.#pending?.next.fill(0);
    this.#pending = null;
  }

  #fingerprints(): string[] | null {
    return this.#pgpKeys?.map((key) => key.fingerprint) ?? null;
  }

  async #required(): Promise<number> {
    return (await this.seal.config())?.secret_threshold ?? 0;
  }

  #checkKind(): void {
    if (this.kind === "recovery" && !this.seal.recoverySeal) {
      throw new LogicalError(400, `the ${this.seal.type} seal has no recovery keys; rekey the unseal keys with sys/rekey`);
    }
    if (this.kind === "unseal" && this.seal.recoverySeal) {
      throw new LogicalError(400, `the ${this.seal.type} seal unseals by itself and hands out recovery keys; rekey those with sys/rekey-recovery-key`);
    }
  }
}

function rekeyPlan(body: Record<string, unknown>): RekeyPlan {
  const backup = body.backup ?? false;
  if (typeof backup !== "boolean") throw new LogicalError(400, `"backup" must be true or false`);
  const requireVerification = body.require_verification ?? false;
  if (typeof requireVerification !== "boolean") throw new LogicalError(400, `"require_verification" must be true or false`);
  const shares = integerField(body, "secret_shares");
  const threshold = integerField(body, "secret_threshold");
  try {
    validateShareParameters(shares, threshold);
  } catch (error) {
    throw new LogicalError(400, `invalid rekey configuration: ${(error as Error).message}`);
  }
  return { shares, threshold, requireVerification, backup };
}

function integerField(body: Record<string, unknown>, name: string): number {
  const value = body[name];
  if (value === undefined || value === null) throw new LogicalError(400, `"${name}" is required`);
  if (typeof value !== "number" || !Number.isInteger(value)) throw new LogicalError(400, `"${name}" must be an integer (got ${JSON.stringify(value)})`);
  return value;
}
