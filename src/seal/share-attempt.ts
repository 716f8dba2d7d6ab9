import { decodeKey, randomUuid } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import { combineShares, equalInConstantTime } from "./shamir.js";

/**
 * As Vault ≥ 1.20: for this long after it starts, a rekey is cancelled only with its nonce, so a
 * client that never saw it (the endpoints take no token) cannot cancel one under way blindly.
 */
export const CANCEL_NEEDS_NONCE_MS = 10 * 60_000;

/**
 * One operator-share operation in progress (rekey, rekey verification, root generation): its nonce
 * and the distinct shares given so far. Like the unseal path, a share is compared in constant time
 * and only the combined key is ever checked, so a guessed share teaches nothing.
 */
export class ShareAttempt {
  #nonce = "";
  #shares: Uint8Array[] = [];
  #startedAt = 0;

  constructor(
    private readonly operation: string,
    private readonly now: () => number = Date.now,
  ) {}

  get started(): boolean {
    return this.#nonce !== "";
  }

  get nonce(): string {
    return this.#nonce;
  }

  get progress(): number {
    return this.#shares.length;
  }

  begin(): void {
    this.#nonce = randomUuid();
    this.#shares = [];
    this.#startedAt = this.now();
  }

  /** Refuses (400) to cancel an attempt younger than CANCEL_NEEDS_NONCE_MS without its nonce (`nonce` of the request). */
  checkCancel(body: Record<string, unknown>): void {
    if (!this.started || this.now() - this.#startedAt >= CANCEL_NEEDS_NONCE_MS) return;
    const { nonce } = body;
    if (typeof nonce === "string" && equalInConstantTime(new TextEncoder().encode(nonce), new TextEncoder().encode(this.#nonce))) return;
    throw new LogicalError(400, `cancelling a ${this.operation} in its first 10 minutes needs its nonce: give "nonce" (shown by the status endpoint)`);
  }

  end(): void {
    this.#nonce = "";
    this.#shares = [];
  }

  /** Starts the count again within the same attempt (after a share set that did not check out). */
  clearProgress(): void {
    this.#shares = [];
  }

  /**
   * Takes `{key, nonce}` from a request body; resolves the key the shares rebuild once `threshold`
   * distinct shares are in (the count then starts again), else null.
   */
  async add(body: Record<string, unknown>, threshold: number): Promise<Uint8Array | null> {
    if (!this.started) throw new LogicalError(400, `no ${this.operation} in progress`);
    const { key, nonce } = body;
    if (typeof key !== "string" || key.trim() === "") throw new LogicalError(400, `"key" must be given: one key share (hex or base64)`);
    if (typeof nonce !== "string" || nonce === "") throw new LogicalError(400, `"nonce" must be given: the ${this.operation}'s nonce`);
    if (!equalInConstantTime(new TextEncoder().encode(nonce), new TextEncoder().encode(this.#nonce))) {
      throw new LogicalError(400, `the given nonce does not match the nonce of the ${this.operation} in progress`);
    }
    const share = decodeKey(key.trim());
    if (!share || share.length === 0) throw new LogicalError(400, `"key" must be a valid hex or base64 string`);
    if (this.#shares.some((given) => equalInConstantTime(given, share))) {
      throw new LogicalError(400, `this key share has already been given in this ${this.operation}`);
    }
    this.#shares.push(share);
    if (this.#shares.length < threshold) return null;
    const shares = this.#shares;
    this.#shares = [];
    try {
      return shares.length === 1 ? shares[0]! : await combineShares(shares);
    } catch (error) {
      throw new LogicalError(400, `the key shares given cannot be combined: ${(error as Error).message}`);
    }
  }
}
