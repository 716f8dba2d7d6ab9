/**
 * The write generation that lets standbys keep what they read (`standby_reads`).
 *
 * The active counts every write of its term once storage has answered it, before the write is
 * acknowledged; its generation is its term plus that count. Standbys holding a read lease
 * (read-lease.ts) hear of each new generation before the write is acknowledged, and reuse what
 * they read from storage only while the generation they know stays the same.
 */
import { aroundWrites, type Backend } from "../physical/backend.js";

/** The active's side: its term's identity and how many of its writes storage has answered. */
export class WriteGeneration {
  readonly #term: string;
  #writes = 0;

  constructor(epoch: number) {
    // The nonce tells apart two terms on one epoch (a lock store that lost its record).
    const nonce = Array.from(crypto.getRandomValues(new Uint8Array(8)), (byte) => byte.toString(16).padStart(2, "0")).join("");
    this.#term = `${epoch}/${nonce}`;
  }

  current(): string {
    return `${this.#term}/${this.#writes}`;
  }

  /**
   * `target` counting each put and delete when storage answers, failed ones too (a write that
   * failed may still have landed), and passing the new generation to `written` (which tells the
   * standbys) before the caller hears of it.
   */
  counting(target: Backend, written: (generation: string) => Promise<void>): Backend {
    return aroundWrites(target, async (write) => {
      try {
        await write();
      } finally {
        this.#writes++;
        await written(this.current());
      }
    });
  }
}
