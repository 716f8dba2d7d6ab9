/** Listeners waiting for this node to become active (requests a standby holds), each called once. */
export class ActiveWaiters {
  readonly #listeners = new Set<() => void>();

  /** Adds `listener`; returns a function that stops it waiting. */
  add(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  wake(): void {
    for (const wake of this.#listeners) wake();
    this.#listeners.clear();
  }
}
