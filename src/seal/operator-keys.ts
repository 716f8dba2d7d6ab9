import type { LogicalState } from "../logical/state.js";
import { GenerateRoot } from "./generate-root.js";
import { Rekey } from "./rekey.js";
import type { Seal, UnsealKeyWrapping } from "./seal.js";
import type { Storage } from "../sdk/types.js";

/**
 * The operations authorized by a threshold of operator key shares rather than a token: rekey of the
 * unseal keys, rekey of the recovery keys, and root token generation. Their progress lives in the
 * memory of the active node that took it, as Vault's does (after a failover, start again); sealing drops it.
 */
export class OperatorKeyOperations {
  readonly rekey: Rekey;
  readonly rekeyRecovery: Rekey;
  readonly generateRoot: GenerateRoot;

  constructor(
    private readonly seal: Seal,
    barrier: UnsealKeyWrapping & Storage,
    state: () => LogicalState,
    now: () => number = Date.now,
  ) {
    this.rekey = new Rekey("unseal", seal, barrier, barrier, now);
    this.rekeyRecovery = new Rekey("recovery", seal, barrier, barrier, now);
    const createRootToken = async () => (await state().tokens.create({ policies: ["root"], path: "auth/token/root" })).token;
    this.generateRoot = new GenerateRoot(seal, barrier, createRootToken);
  }

  /**
   * Forgets every operator share given, for unseal as for these operations (the unseal reset, and
   * at seal: a sealed node keeps no key material of a rekey in memory).
   */
  forgetShares(): void {
    this.seal.reset();
    this.rekey.cancel();
    this.rekeyRecovery.cancel();
    this.generateRoot.cancel();
  }
}
