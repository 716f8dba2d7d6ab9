/**
 * The write generation that lets standbys keep what they read (`standby_reads`).
 *
 * The active counts every write of its term once storage has answered it, before the write is
 * acknowledged; its generation is its term plus that count. A standby asks the active for the
 * generation over the cluster channel at the start of each read it answers, and reuses what it
 * read from storage only while the generation it gets back stays the same. So a write acknowledged
 * before a read began has changed the generation before the active answered, and the standby
 * starts again from storage.
 *
 * The active answers only while its hold on the lock is certain (as it checks before each write),
 * so a deposed active that has not noticed yet cannot vouch for data a newer active has changed.
 */
import { aroundWrites, type Backend } from "../physical/backend.js";

/** The active's side: its term's identity and how many of its writes storage has answered. */
export class WriteGeneration {
  readonly #term: string;
  #writes = 0;

  constructor(nodeId: string, epoch: number) {
    const nonce = Array.from(crypto.getRandomValues(new Uint8Array(8)), (byte) => byte.toString(16).padStart(2, "0")).join("");
    this.#term = `${nodeId}/${epoch}/${nonce}`;
  }

  current(): string {
    return `${this.#term}/${this.#writes}`;
  }

  /**
   * `target` counting each put and delete when storage answers, failed ones too (a write that
   * failed may still have landed), before the caller hears of it.
   */
  counting(target: Backend): Backend {
    return aroundWrites(target, async (write) => {
      try {
        await write();
      } finally {
        this.#writes++;
      }
    });
  }
}

/**
 * The standby's side: `ask` the active, so that each caller gets an answer to a question asked
 * after it called. Callers that arrive while a question is out share the next one, so a busy
 * standby asks at most twice per round trip, not once per read.
 */
export function askedAfterCall(ask: () => Promise<string | null>): () => Promise<string | null> {
  let next: Promise<string | null> | null = null;
  let out: Promise<unknown> = Promise.resolve();
  return () => {
    if (next) return next;
    // `out` never rejects: it is the previous question with its failure caught.
    const asking = out.then(() => {
      next = null;
      return ask();
    });
    next = asking;
    out = asking.catch(() => null);
    return asking;
  };
}
