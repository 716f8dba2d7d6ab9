/** Where this node is reached: clients at `apiAddr`, standbys at `clusterAddr`. */
export interface NodeAddresses {
  apiAddr: string;
  clusterAddr: string;
}

/**
 * The node's addresses as the adapter knows them once its listeners are bound (a port-0
 * listener's real port is known only then). The core reads them from here only, and does not
 * contend for the lock before they are set.
 */
export class BoundAddresses {
  #value: NodeAddresses | null = null;
  #resolve!: (addresses: NodeAddresses) => void;
  readonly ready: Promise<NodeAddresses> = new Promise((resolve) => (this.#resolve = resolve));

  /** Known from the start (tests, in-process nodes): bound at once. */
  static of(addresses: NodeAddresses): BoundAddresses {
    const bound = new BoundAddresses();
    bound.bind(addresses);
    return bound;
  }

  bind(addresses: NodeAddresses): void {
    if (this.#value) throw new Error("the node's addresses are already bound");
    this.#value = { ...addresses };
    this.#resolve(this.#value);
  }

  get current(): NodeAddresses {
    if (!this.#value) throw new Error("the node's addresses are not bound yet");
    return this.#value;
  }
}
