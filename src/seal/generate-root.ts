import { fromBase64, randomBase62, toBase64, toHex } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import { encryptFor, hasPgpKeys, type PgpRecipient, readPgpKeys } from "./pgp.js";
import type { Seal, UnsealKeyWrapping } from "./seal.js";
import { ShareAttempt } from "./share-attempt.js";

/** Root tokens are "hvs." + 24 base62 characters; the one-time pad covers every character. */
export const ROOT_TOKEN_OTP_LENGTH = 28;

/**
 * sys/generate-root/*, as Vault ≥ 1.10: start an attempt (the server makes the one-time password
 * unless the caller brings one of the right length), give a threshold of operator shares (unseal
 * keys, or recovery keys) with the nonce, receive the new root token XORed with the OTP, base64;
 * or, with `pgp_key`, encrypted to that key (src/seal/pgp.ts).
 */
export class GenerateRoot {
  readonly #attempt = new ShareAttempt("root generation");
  #otp = "";
  #pgpKey: PgpRecipient | null = null;

  constructor(
    private readonly seal: Seal,
    private readonly barrier: UnsealKeyWrapping,
    private readonly createRootToken: () => Promise<string>,
  ) {}

  async status(): Promise<Record<string, unknown>> {
    return {
      started: this.#attempt.started,
      nonce: this.#attempt.nonce,
      progress: this.#attempt.progress,
      required: (await this.seal.config())?.secret_threshold ?? 0,
      encoded_token: "",
      encoded_root_token: "",
      pgp_fingerprint: this.#pgpKey?.fingerprint ?? "",
      otp: "",
      otp_length: ROOT_TOKEN_OTP_LENGTH,
      complete: false,
    };
  }

  async start(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#attempt.started) throw new LogicalError(400, "a root generation is already in progress; cancel it first (DELETE sys/generate-root/attempt)");
    const { otp, pgp_key: pgpKey } = body;
    const given = otp !== undefined && otp !== null && otp !== "";
    if (hasPgpKeys(pgpKey)) {
      if (given) throw new LogicalError(400, `give either "otp" or "pgp_key", not both`);
      if (typeof pgpKey !== "string") throw new LogicalError(400, `"pgp_key" must be one base64-encoded PGP public key`);
      [this.#pgpKey] = await readPgpKeys("pgp_key", [pgpKey]);
      this.#attempt.begin();
      return this.status();
    }
    if (given && (typeof otp !== "string" || otp.length !== ROOT_TOKEN_OTP_LENGTH)) {
      throw new LogicalError(400, `"otp" must be a string of ${ROOT_TOKEN_OTP_LENGTH} characters (leave it out and the server generates one)`);
    }
    this.#otp = given ? (otp as string) : randomBase62(ROOT_TOKEN_OTP_LENGTH);
    this.#attempt.begin();
    // As Vault: the OTP is shown once, and only when the server made it.
    return { ...(await this.status()), otp: given ? "" : this.#otp };
  }

  cancel(): void {
    this.#attempt.end();
    this.#otp = "";
    this.#pgpKey = null;
  }

  async update(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const status = await this.status();
    const key = await this.#attempt.add(body, status.required as number);
    if (!key) return this.status();
    if (!(await this.seal.checkOperatorKey(key, this.barrier))) {
      throw new LogicalError(
        400,
        "the key shares given do not rebuild this cluster's key (wrong or mismatched shares); no token was made, give the shares again",
      );
    }
    const token = await this.createRootToken();
    // As Vault: the PGP message holds the token's hex.
    const encoded = this.#pgpKey ? toBase64(await encryptFor(this.#pgpKey, toHex(new TextEncoder().encode(token)))) : encodeWithOtp(token, this.#otp);
    const nonce = this.#attempt.nonce;
    this.cancel();
    return { ...status, started: true, nonce, progress: status.required, encoded_token: encoded, encoded_root_token: encoded, complete: true };
  }
}

/** base64 (unpadded, as Vault) of the token's characters XORed with the OTP's. */
export function encodeWithOtp(token: string, otp: string): string {
  if (token.length !== otp.length) throw new Error(`the token (${token.length} characters) and the OTP (${otp.length}) differ in length`);
  const bytes = Uint8Array.from(token, (char, i) => char.charCodeAt(0) ^ otp.charCodeAt(i));
  return toBase64(bytes).replace(/=+$/, "");
}

/** The inverse of `encodeWithOtp` (`operator generate-root -decode`); padded base64 is accepted too. */
export function decodeWithOtp(encoded: string, otp: string): string {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(encoded.trim());
  } catch {
    throw new LogicalError(400, "the encoded token is not base64");
  }
  if (bytes.length !== otp.length)
    throw new LogicalError(400, `the encoded token has ${bytes.length} bytes, the OTP ${otp.length} characters: they must match`);
  return String.fromCharCode(...bytes.map((byte, i) => byte ^ otp.charCodeAt(i)));
}
