import { combine, split } from "shamir-secret-sharing";
import { fromBase64, randomUuid, toBase64, toHex } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import type { Backend } from "../physical/backend.js";
import {
  type InitKeys,
  type InitRequest,
  type OperatorUnseal,
  type Seal,
  type SealConfig,
  SealConfigStore,
  type ShareCounts,
  type UnsealKeyWrapping,
} from "./seal.js";

/**
 * Shamir secret sharing over GF(256) (the audited `shamir-secret-sharing` package, same field and
 * share layout as Vault: one y byte per secret byte, then the share's x coordinate as the last byte).
 */

export const MAX_SHARES = 255;

/**
 * Vault's seal-configuration rule: 1 ≤ shares ≤ 255, 1 ≤ threshold ≤ shares, and threshold 1 only
 * for a single share (one share that alone unlocks is the key itself; several such copies would
 * only be the key handed out N times).
 */
export function validateShareParameters(shares: number, threshold: number): void {
  if (!Number.isInteger(shares) || shares < 1) throw new RangeError("shares must be at least one");
  if (shares > MAX_SHARES) throw new RangeError(`shares must be at most ${MAX_SHARES}`);
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError("threshold must be at least one");
  if (threshold > shares) throw new RangeError("threshold cannot be larger than shares");
  if (shares > 1 && threshold === 1) {
    throw new RangeError("threshold must be greater than one for multiple shares");
  }
}

/** Splits `secret` into `shares` shares, any `threshold` of which rebuild it. One share is the secret itself. */
export async function splitSecret(secret: Uint8Array, shares: number, threshold: number): Promise<Uint8Array[]> {
  validateShareParameters(shares, threshold);
  if (!(secret instanceof Uint8Array) || secret.length === 0) {
    throw new RangeError("secret must be a non-empty byte array");
  }
  // Copy: the package insists on exactly Uint8Array (a Node Buffer subclass is refused).
  if (shares === 1) return [new Uint8Array(secret)];
  return split(new Uint8Array(secret), shares, threshold);
}

/**
 * Rebuilds the secret from shares. A single share is taken as the secret itself (the 1-of-1 case);
 * with fewer shares than the threshold the result is simply a wrong secret, which the caller detects
 * when it fails to unseal.
 */
export async function combineShares(shares: Uint8Array[]): Promise<Uint8Array> {
  if (!Array.isArray(shares) || shares.length === 0) throw new Error("at least one share is required");
  if (shares.length > MAX_SHARES) throw new Error(`at most ${MAX_SHARES} shares can be combined`);
  if (!shares.every((share) => share instanceof Uint8Array)) throw new Error("every share must be a byte array");
  if (shares.length === 1) return new Uint8Array(shares[0]!);

  const length = shares[0]!.length;
  const seenX = new Set<number>();
  for (const share of shares) {
    if (share.length < 2) throw new Error("share is too short (needs at least one data byte and its x coordinate)");
    if (share.length !== length) throw new Error("shares have different lengths; they do not come from one split");
    const x = share[share.length - 1]!;
    if (x === 0) throw new Error("share has x coordinate 0, which no split produces");
    if (seenX.has(x)) throw new Error("duplicate share: two shares have the same x coordinate");
    seenX.add(x);
  }
  return combine(shares.map((share) => new Uint8Array(share)));
}

/** Checks sys/init's `<kind>_shares` and `<kind>_threshold` as Vault does; a 400 otherwise. */
export function checkShareParameters(request: InitRequest, kind: "secret" | "recovery"): void {
  const shares = request[`${kind}_shares`];
  const threshold = request[`${kind}_threshold`];
  if (shares === undefined) throw new LogicalError(400, `"${kind}_shares" is required`);
  if (threshold === undefined) throw new LogicalError(400, `"${kind}_threshold" is required`);
  try {
    validateShareParameters(shares, threshold);
  } catch (error) {
    throw new LogicalError(400, `invalid ${kind === "secret" ? "seal" : "recovery"} configuration: ${(error as Error).message}`);
  }
}

/** Operator key shares given so far in one unseal attempt, and the attempt's nonce. */
export class ShareCollector {
  #shares: Uint8Array[] = [];
  #nonce = "";

  /** Adds a share; returns the secret they rebuild once `threshold` distinct shares are in, else null. */
  async add(share: Uint8Array, shares: number, threshold: number): Promise<Uint8Array | null> {
    // Constant time: how far a submitted share matches an earlier one must not show in timing.
    if (this.#shares.some((given) => equalInConstantTime(given, share))) return null;
    if (this.#shares.length === 0) this.#nonce = randomUuid();
    this.#shares.push(share);
    if (this.#shares.length < threshold) return null;
    const given = this.#shares;
    this.reset();
    return shares === 1 ? given[0]! : combineShares(given);
  }

  reset(): void {
    this.#shares = [];
    this.#nonce = "";
  }

  progress(): { progress: number; nonce: string } {
    return { progress: this.#shares.length, nonce: this.#nonce };
  }
}

/**
 * Stored by a Shamir seal that was migrated to from an auto seal: the former recovery key shares
 * become the unseal key shares, so they rebuild a key that unwraps the barrier key rather than the
 * barrier key itself.
 */
interface ShamirSealConfig extends SealConfig {
  /** base64 of IV (12 bytes) + AES-256-GCM ciphertext of the barrier key under the combined key. */
  wrapped_barrier_key?: string;
}

const WRAP_IV_BYTES = 12;
const WRAP_CONTEXT = new TextEncoder().encode("strongbox-seal:barrier-key");

/** The barrier key split among key holders: unsealing takes `secret_threshold` of the shares. */
export class ShamirSeal implements Seal {
  readonly type = "shamir";
  readonly recoverySeal = false;
  readonly #configs: SealConfigStore<ShamirSealConfig>;
  readonly #shares = new ShareCollector();

  constructor(physical: Backend) {
    this.#configs = new SealConfigStore(physical);
  }

  checkInit(request: InitRequest): void {
    for (const recovery of ["recovery_shares", "recovery_threshold"] as const) {
      if (request[recovery]) throw new LogicalError(400, `"${recovery}" needs an auto-unseal seal (seal "awskms"); this node uses the Shamir seal`);
    }
    checkShareParameters(request, "secret");
  }

  async initialize(barrierKey: Uint8Array, request: InitRequest, clusterId: string): Promise<InitKeys> {
    const shares = await splitSecret(barrierKey, request.secret_shares!, request.secret_threshold!);
    await this.#configs.write({ type: this.type, secret_shares: request.secret_shares!, secret_threshold: request.secret_threshold!, cluster_id: clusterId });
    return { keys: shares.map(toHex), keys_base64: shares.map(toBase64) };
  }

  config(): Promise<SealConfig | null> {
    return this.#configs.read();
  }

  async submitKey(share: Uint8Array): Promise<OperatorUnseal | null> {
    // Another node may have rekeyed since this one read the share counts.
    const config = this.#shares.progress().progress === 0 ? await this.#configs.reload() : await this.#configs.read();
    if (!config) throw new LogicalError(400, "Vault is not initialized");
    const operatorKey = await this.#shares.add(share, config.secret_shares, config.secret_threshold);
    if (!operatorKey) return null;
    const barrierKey = config.wrapped_barrier_key ? await unwrapBarrierKey(operatorKey, config.wrapped_barrier_key) : operatorKey;
    return { barrierKey, operatorKey };
  }

  async migratedConfig(barrierKey: Uint8Array, operatorKey: Uint8Array, previous: SealConfig): Promise<SealConfig> {
    const { secret_shares, secret_threshold, cluster_id } = previous;
    const config: ShamirSealConfig = {
      type: this.type,
      secret_shares,
      secret_threshold,
      cluster_id,
      wrapped_barrier_key: await wrapBarrierKey(operatorKey, barrierKey),
    };
    return config;
  }

  writeConfig(config: SealConfig, storage: Backend): Promise<void> {
    return this.#configs.write(config, storage);
  }

  /** The unseal key opens the barrier, or — after a migration from awskms — unwraps the key that does. */
  async checkOperatorKey(key: Uint8Array, barrier: UnsealKeyWrapping): Promise<boolean> {
    const wrapped = (await this.#configs.read())?.wrapped_barrier_key;
    if (!wrapped) return barrier.verifyUnsealKey(key);
    const barrierKey = await unwrapBarrierKey(key, wrapped).catch(() => null);
    return barrierKey !== null && (await barrier.verifyUnsealKey(barrierKey));
  }

  async replaceOperatorKey(current: Uint8Array, next: Uint8Array, split: ShareCounts, barrier: UnsealKeyWrapping): Promise<void> {
    const config = await this.#configs.reload();
    if (!config) throw new LogicalError(400, "Vault is not initialized");
    if (config.wrapped_barrier_key) {
      // The barrier key stays; only its wrapping and the counts change, in one write.
      const barrierKey = await unwrapBarrierKey(current, config.wrapped_barrier_key);
      const wrapped_barrier_key = await wrapBarrierKey(next, barrierKey);
      await this.#configs.write({ ...config, secret_shares: split.shares, secret_threshold: split.threshold, wrapped_barrier_key });
      return;
    }
    // Counts first: a crash before the root key is rewrapped leaves the old key working (with the
    // new threshold); the other order could leave a key nobody was ever given.
    await this.#configs.write({ ...config, secret_shares: split.shares, secret_threshold: split.threshold });
    await barrier.rewrapRootKey(current, next);
  }

  reset(): void {
    this.#shares.reset();
  }

  progress(): { progress: number; nonce: string } {
    return this.#shares.progress();
  }
}

async function wrappingKey(operatorKey: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", new Uint8Array(operatorKey), "AES-GCM", false, ["encrypt", "decrypt"]);
}

async function wrapBarrierKey(operatorKey: Uint8Array, barrierKey: Uint8Array): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(WRAP_IV_BYTES));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: WRAP_CONTEXT }, await wrappingKey(operatorKey), new Uint8Array(barrierKey));
  const wrapped = new Uint8Array(WRAP_IV_BYTES + sealed.byteLength);
  wrapped.set(iv);
  wrapped.set(new Uint8Array(sealed), WRAP_IV_BYTES);
  return toBase64(wrapped);
}

/** Wrong shares rebuild a wrong key (or one of the wrong length): either way the tag check fails. */
async function unwrapBarrierKey(operatorKey: Uint8Array, wrapped: string): Promise<Uint8Array> {
  try {
    const bytes = fromBase64(wrapped);
    const iv = bytes.subarray(0, WRAP_IV_BYTES);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: WRAP_CONTEXT },
      await wrappingKey(operatorKey),
      bytes.subarray(WRAP_IV_BYTES),
    );
    return new Uint8Array(plain);
  } catch {
    throw new LogicalError(400, "the unseal key shares given do not unlock this cluster's root key (wrong or mismatched shares)");
  }
}

export function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}
