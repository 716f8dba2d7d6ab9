import type { Logger } from "../sdk/logger.js";

/** How often a node that has not yet seen the cluster initialised looks again (another node may initialise it). */
const INITIALIZATION_POLL_MS = 1_000;

/** What the watch needs of the node (Core). */
export interface InitializationSource {
  /** Reads storage, and remembers the answer as `knownInitialized`. */
  initialized(): Promise<boolean>;
  readonly knownInitialized: boolean | null;
}

/**
 * Looks in storage every INITIALIZATION_POLL_MS, in the background, until the node has seen the
 * cluster initialised (possibly by another node), so sys/health can answer from memory; nothing
 * undoes an init, so it stops there. Returns the stop.
 */
export function watchInitialization(node: InitializationSource, logger: Logger): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const look = async () => {
    await node.initialized().catch((error: unknown) => {
      logger.debug("cannot read the seal configuration yet; looking again", { error: (error as Error).name });
    });
    if (!stopped && node.knownInitialized !== true) timer = setTimeout(() => void look(), INITIALIZATION_POLL_MS);
  };
  void look();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
